package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gossipod/gossipod/internal/testenv"
)

// debianKubectlPackage is the Debian package of kubectl: on Debian 12 it
// is kubectl 1.20.2, the oldest kubectl users are likely to meet, from
// before OpenAPI v3, watch-list and WebSocket streams.
const debianKubectlPackage = "kubernetes-client"

// debianKubectl caches the lookup (and the download, the first time on a
// machine) of Debian's kubectl per test binary run.
var debianKubectl struct {
	once sync.Once
	path string
	err  error
}

// DebianKubectl returns the path of the kubectl of Debian's
// kubernetes-client package: the installed package's, when dpkg says it
// is installed, otherwise one unpacked from the package `apt-get download`
// fetches, kept in the user's cache directory by package version so that
// a machine downloads each version once. The package is never installed:
// its /usr/bin/kubectl would take the place of any other kubectl there.
//
// A machine without apt and dpkg, or without the package in its sources,
// skips the test, or fails it under CI=true (testenv.Missing).
func DebianKubectl(t testing.TB) string {
	t.Helper()
	debianKubectl.once.Do(func() {
		debianKubectl.path, debianKubectl.err = findDebianKubectl()
	})
	if debianKubectl.err != nil {
		testenv.Missing(t, fmt.Sprintf("Debian's kubectl: %v", debianKubectl.err))
	}
	return debianKubectl.path
}

// findDebianKubectl looks for the installed package's kubectl, then for
// the candidate version's in the cache, and unpacks it there if need be.
func findDebianKubectl() (string, error) {
	for _, tool := range []string{"dpkg-query", "apt-cache", "apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("not a Debian system: %w", err)
		}
	}
	if status, err := output("dpkg-query", "-W", "-f=${db:Status-Status}", debianKubectlPackage); err == nil && status == "installed" {
		files, err := output("dpkg-query", "-L", debianKubectlPackage)
		if err != nil {
			return "", err
		}
		for f := range strings.SplitSeq(files, "\n") {
			if strings.HasSuffix(f, "/bin/kubectl") {
				return f, nil
			}
		}
		return "", fmt.Errorf("package %s is installed but holds no bin/kubectl", debianKubectlPackage)
	}
	version, err := candidateVersion()
	if err != nil {
		return "", err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache directory for %s: %w", debianKubectlPackage, err)
	}
	dir := filepath.Join(cache, "gossipod-e2e", debianKubectlPackage+"_"+version)
	path := filepath.Join(dir, "usr", "bin", "kubectl")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := unpackDebianKubectl(filepath.Dir(dir), dir); err != nil {
		return "", err
	}
	return path, nil
}

// candidateVersion is the version of the package apt would download.
func candidateVersion() (string, error) {
	policy, err := output("apt-cache", "policy", debianKubectlPackage)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(policy, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Candidate:"); ok {
			if v = strings.TrimSpace(v); v != "" && v != "(none)" {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("no candidate version of %s in the apt sources (apt-get update?):\n%s", debianKubectlPackage, policy)
}

// unpackDebianKubectl downloads the package into a fresh directory under
// parent, unpacks it there and renames the unpacked tree to dir, so that a
// concurrent or interrupted run never sees half a tree.
func unpackDebianKubectl(parent, dir string) error {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("make the cache directory: %w", err)
	}
	work, err := os.MkdirTemp(parent, "download-")
	if err != nil {
		return fmt.Errorf("make a download directory: %w", err)
	}
	defer os.RemoveAll(work)
	download := exec.Command("apt-get", "download", debianKubectlPackage)
	download.Dir = work
	if out, err := download.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get download %s: %w\n%s", debianKubectlPackage, err, out)
	}
	debs, err := filepath.Glob(filepath.Join(work, debianKubectlPackage+"_*.deb"))
	if err != nil || len(debs) != 1 {
		return fmt.Errorf("apt-get download %s left %v in %s (%v)", debianKubectlPackage, debs, work, err)
	}
	root := filepath.Join(work, "root")
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w\n%s", debs[0], err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "usr", "bin", "kubectl")); err != nil {
		return fmt.Errorf("%s holds no usr/bin/kubectl: %w", filepath.Base(debs[0]), err)
	}
	if err := os.Rename(root, dir); err != nil {
		// Another run may have put the same version there first.
		if _, statErr := os.Stat(filepath.Join(dir, "usr", "bin", "kubectl")); statErr == nil {
			return nil
		}
		return fmt.Errorf("keep the unpacked package: %w", err)
	}
	return nil
}

// output runs a command and returns its trimmed standard output, or an
// error with its standard error.
func output(name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
