package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPodSecurityKubectl drives Pod Security admission with upstream kubectl on a
// one-host cluster: a namespace labelled baseline (warn restricted) refuses a hostPort
// pod with kube-apiserver's message as kubectl prints it, admits a plain pod with
// kubectl's `Warning:` line, refuses a label that names no level, warns about a
// Deployment whose pods it will refuse, whose ReplicaSet then records FailedCreate;
// and the unlabelled default namespace holds pods to the cluster default, baseline.
func TestPodSecurityKubectl(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 1, AgentArgs: BootstrapExpect(1)})
	c.CleanupPods()
	waitFormed(t, c, 1, 0)
	kubectl := BuildKubectl(t)
	k := func(args ...string) Result {
		t.Helper()
		return c.KubectlWith(kubectl, kubectlTimeout, args...)
	}
	// Before CleanupPods' deletion (cleanups run last first): the Deployment lives in
	// namespace shop, which CleanupDeployments does not look in.
	t.Cleanup(func() {
		if res := k("delete", "deployment", "web", "-n", "shop", "--ignore-not-found", "--wait=false"); res.Err() != nil {
			t.Errorf("delete deployment web: %v", res.Err())
		}
	})
	dir := t.TempDir()
	manifest := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeManifest(t, p, content)
		return p
	}
	pod := func(name, ns, extra string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
			"\nspec:\n  containers:\n  - name: app\n    image: localhost/busybox:latest\n    imagePullPolicy: IfNotPresent\n" +
			"    command: [\"sleep\", \"3600\"]\n" + extra
	}
	const hostPort = "    ports:\n    - containerPort: 8080\n      hostPort: 8080\n"
	const restricted = `allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), ` +
		`unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), ` +
		`runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), ` +
		`seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
	wantIn := func(what, out, want string) {
		t.Helper()
		if !strings.Contains(out, want) {
			t.Fatalf("%s: output has no %q:\n%s", what, want, out)
		}
	}

	if res := k("create", "namespace", "shop"); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if res := k("label", "ns", "shop", "pod-security.kubernetes.io/enforce=baseline", "pod-security.kubernetes.io/warn=restricted"); res.Err() != nil {
		t.Fatal(res.Err())
	}

	hp := manifest("hp.yaml", pod("hp", "shop", hostPort))
	res := k("apply", "-f", hp)
	if res.ExitCode == 0 {
		t.Fatalf("hostPort pod in a baseline namespace admitted:\n%s", res)
	}
	wantIn("hostPort pod", res.Stderr, `Error from server (Forbidden): error when creating "`+hp+`": pods "hp" is forbidden: `+
		`violates PodSecurity "baseline:latest": hostPort (container "app" uses hostPort 8080)`)

	priv := manifest("priv.yaml", pod("priv", "shop", "    securityContext:\n      privileged: true\n"))
	res = k("apply", "-f", priv)
	if res.ExitCode == 0 {
		t.Fatalf("privileged pod in a baseline namespace admitted:\n%s", res)
	}
	wantIn("privileged pod", res.Stderr, `Error from server (Forbidden): error when creating "`+priv+`": pods "priv" is forbidden: `+
		`violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)`)

	res = k("apply", "-f", manifest("plain.yaml", pod("plain", "shop", "")))
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	wantIn("plain pod", res.Stdout, "pod/plain created")
	wantIn("plain pod", res.Stderr, `Warning: would violate PodSecurity "restricted:latest": `+restricted)

	res = k("label", "ns", "shop", "pod-security.kubernetes.io/enforce=strict", "--overwrite")
	if res.ExitCode == 0 {
		t.Fatalf("a level that does not exist accepted:\n%s", res)
	}
	wantIn("bad label", res.Stderr, `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted`)

	res = k("apply", "-f", manifest("web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: localhost/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sleep", "3600"]
        ports:
        - containerPort: 8080
          hostPort: 8080
`))
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	wantIn("Deployment", res.Stdout, "deployment.apps/web created")
	wantIn("Deployment", res.Stderr, `Warning: would violate PodSecurity "restricted:latest": hostPort (container "app" uses hostPort 8080), `)
	Eventually(t, 60*time.Second, func() error {
		res := k("get", "events", "-n", "shop")
		if err := res.Err(); err != nil {
			return err
		}
		for _, line := range strings.Split(res.Stdout, "\n") {
			if strings.Contains(line, "FailedCreate") && strings.Contains(line, `" is forbidden: violates PodSecurity "baseline:latest": hostPort (container "app" uses hostPort 8080)`) {
				return nil
			}
		}
		return fmt.Errorf("no FailedCreate event with PodSecurity's message yet:\n%s", res.Stdout)
	})

	res = k("apply", "-f", manifest("hp-default.yaml", pod("hp", "default", hostPort)))
	if res.ExitCode == 0 {
		t.Fatalf("hostPort pod in the unlabelled default namespace admitted:\n%s", res)
	}
	wantIn("hostPort pod in default", res.Stderr, `pods "hp" is forbidden: violates PodSecurity "baseline:latest": hostPort (container "app" uses hostPort 8080)`)
}
