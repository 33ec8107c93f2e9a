package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// KubectlEnv names an environment variable that, when set, points at a kubectl binary
// to use instead of building one, e.g. to try another release against the cluster.
const KubectlEnv = "GOSSIPOD_E2E_KUBECTL"

// KubectlVersion is the Kubernetes release of the k8s.io modules in go.mod, which is
// the release of the kubectl the tests build (./e2e/kubectl is upstream kubectl's main
// over k8s.io/kubectl). It is stamped into the binary so that `kubectl version` and its
// version-skew check see a real version instead of v0.0.0-master.
const KubectlVersion = "v1.37.2"

// kubectlBuild caches the one compilation of ./e2e/kubectl per test binary run (about
// a minute and a half on two cores, so it is done once and only by tests that need it).
var kubectlBuild struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BuildKubectl returns the path of upstream kubectl built from this module's
// k8s.io/kubectl, or $GOSSIPOD_E2E_KUBECTL when that is set.
func BuildKubectl(t testing.TB) string {
	t.Helper()
	kubectlBuild.once.Do(func() {
		if p := os.Getenv(KubectlEnv); p != "" {
			kubectlBuild.path, kubectlBuild.err = filepath.Abs(p)
			if kubectlBuild.err == nil {
				_, kubectlBuild.err = os.Stat(kubectlBuild.path)
			}
			if kubectlBuild.err != nil {
				kubectlBuild.err = fmt.Errorf("$%s: %w", KubectlEnv, kubectlBuild.err)
			}
			return
		}
		kubectlBuild.dir, kubectlBuild.path, kubectlBuild.err = compileKubectl()
	})
	if kubectlBuild.err != nil {
		t.Fatalf("build kubectl: %v", kubectlBuild.err)
	}
	return kubectlBuild.path
}

// compileKubectl runs `go build ./e2e/kubectl` into a fresh temporary directory, with
// the version stamps Kubernetes' own build sets.
func compileKubectl() (dir, path string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("find the go tool: %w", err)
	}
	dir, err = os.MkdirTemp("", "gossipod-e2e-kubectl-")
	if err != nil {
		return "", "", fmt.Errorf("make build dir: %w", err)
	}
	path = filepath.Join(dir, "kubectl")
	var ldflags []string
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		ldflags = append(ldflags, "-X", pkg+".gitVersion="+KubectlVersion,
			"-X", pkg+".gitMajor=1", "-X", pkg+".gitMinor="+strings.Split(KubectlVersion, ".")[1],
			"-X", pkg+".gitTreeState=clean")
	}
	cmd := exec.Command(goTool, "build", "-ldflags", "-s -w "+strings.Join(ldflags, " "), "-o", path, "./e2e/kubectl")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build ./e2e/kubectl in %s: %w\n%s", root, err, out.String())
	}
	return dir, path, nil
}

// cleanupKubectl removes the kubectl compiled by BuildKubectl; TestMain calls it.
func cleanupKubectl() {
	if kubectlBuild.dir != "" {
		os.RemoveAll(kubectlBuild.dir)
	}
}

// Kubectl runs the built kubectl against the cluster with the admin kubeconfig of
// `gossipod kubeconfig`, as a user would after making one, and waits for it.
func (c *Cluster) Kubectl(args ...string) Result {
	c.t.Helper()
	return c.KubectlWith(BuildKubectl(c.t), DefaultRunTimeout, args...)
}

// KubectlJSON runs kubectl with args and -o json and decodes its output into v.
func (c *Cluster) KubectlJSON(v any, args ...string) error {
	c.t.Helper()
	res := c.Kubectl(append(args, "-o", "json")...)
	if err := res.Err(); err != nil {
		return err
	}
	return json.Unmarshal([]byte(res.Stdout), v)
}

// KubectlWith runs the kubectl binary at path (e.g. Debian's) against the cluster with
// the admin kubeconfig and a deadline.
func (c *Cluster) KubectlWith(path string, timeout time.Duration, args ...string) Result {
	c.t.Helper()
	argv := append([]string{path, "--kubeconfig", c.Kubeconfig()}, args...)
	return runCommand(c.t, timeout, argv)
}
