package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDebianKubectl drives a 3-host cluster with the kubectl of Debian's
// kubernetes-client package (1.20.2 on Debian 12) through the commands of
// the README's kubectl table, where an old kubectl does much differently
// from today's: client-side validation with /openapi/v2 in protobuf
// (create, apply), its strategic merge patch from the v2 definitions (a
// second apply), explain from v2, plain watches without watch-list
// (rollout status, get -w, delete's wait), exec and port-forward over SPDY
// only, a client-side rollback, a drain that deletes instead of evicting,
// and dry-runs refused for want of the dryRun parameter in v2.
func TestDebianKubectl(t *testing.T) {
	kubectl := DebianKubectl(t)
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	c.CleanupDeployments()
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	dir := t.TempDir()
	manifest := filepath.Join(dir, "web.yaml")
	writeManifest(t, manifest, kubectlDeployment)

	k := func(t *testing.T, args ...string) Result {
		t.Helper()
		return c.WithT(t).KubectlWith(kubectl, kubectlTimeout, args...)
	}
	ok := func(t *testing.T, args ...string) string {
		t.Helper()
		res := k(t, args...)
		if err := res.Err(); err != nil {
			t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
		}
		if strings.Contains(res.Stderr, "couldn't get current server API group list") || strings.Contains(res.Stderr, "E1") {
			t.Errorf("kubectl %s complained on stderr:\n%s", strings.Join(args, " "), res.Stderr)
		}
		return res.Stdout
	}
	wantLine := func(t *testing.T, out string, re string) {
		t.Helper()
		if !regexp.MustCompile(`(?m)` + re).MatchString(out) {
			t.Fatalf("output has no line matching %q:\n%s", re, out)
		}
	}

	t.Run("version", func(t *testing.T) {
		var v struct {
			ClientVersion struct{ GitVersion string } `json:"clientVersion"`
			ServerVersion struct{ GitVersion string } `json:"serverVersion"`
		}
		if err := json.Unmarshal([]byte(ok(t, "version", "-o", "json")), &v); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v.ClientVersion.GitVersion, "v1.20.") || !strings.HasPrefix(v.ServerVersion.GitVersion, "v1.") {
			t.Fatalf("client %q, server %q; want Debian 12's v1.20 client", v.ClientVersion.GitVersion, v.ServerVersion.GitVersion)
		}
	})

	t.Run("get nodes", func(t *testing.T) {
		out := ok(t, "get", "nodes")
		wantLine(t, out, `^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$`)
		for i := range c.N() {
			wantLine(t, out, `^`+c.Name(i)+`\s+Ready\s`)
		}
		wantLine(t, ok(t, "get", "nodes", "-o", "wide"), `^`+c.Name(0)+`\s+Ready\s.*\s`+regexp.QuoteMeta(c.IP(0))+`\s`)
		wantLine(t, ok(t, "get", "node", c.Name(1), "-o", "yaml"), `^kind: Node$`)
	})

	t.Run("api-resources and explain", func(t *testing.T) {
		// 1.20 reads legacy discovery and the definitions of /openapi/v2.
		wantLine(t, ok(t, "api-resources"), `^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$`)
		wantLine(t, ok(t, "explain", "deployment.spec.replicas"), `^FIELD:\s+replicas <integer>$`)
	})

	t.Run("create namespace", func(t *testing.T) {
		wantLine(t, ok(t, "create", "namespace", "shop"), `^namespace/shop created$`)
		out := ok(t, "get", "ns")
		wantLine(t, out, `^NAME\s+STATUS\s+AGE$`)
		wantLine(t, out, `^shop\s+Active\s`)
	})

	t.Run("apply", func(t *testing.T) {
		wantLine(t, ok(t, "apply", "-f", manifest), `^deployment.apps/web created$`)
		wantLine(t, ok(t, "apply", "-f", manifest), `^deployment.apps/web unchanged$`)
		writeManifest(t, manifest, strings.Replace(kubectlDeployment, "  labels:\n    app: web\nspec:", "  labels:\n    app: web\n    tier: front\nspec:", 1))
		wantLine(t, ok(t, "apply", "-f", manifest), `^deployment.apps/web configured$`)
		if out := ok(t, "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.metadata.labels.tier}"); out != "front" {
			t.Fatalf("label after apply: %q", out)
		}
	})

	t.Run("apply refuses unknown fields client-side", func(t *testing.T) {
		// 1.20 validates against /openapi/v2 before it sends anything,
		// as it does against kube-apiserver.
		bad := filepath.Join(dir, "bad.yaml")
		writeManifest(t, bad, strings.Replace(kubectlDeployment, "imagePullPolicy:", "imagePullPolicyy:", 1))
		res := k(t, "apply", "-f", bad)
		want := `error: error validating "` + bad + `": error validating data: ValidationError(Deployment.spec.template.spec.containers[0]): ` +
			`unknown field "imagePullPolicyy" in io.k8s.api.core.v1.Container; if you choose to ignore these errors, turn validation off with --validate=false`
		if res.ExitCode == 0 || strings.TrimSpace(res.Stderr) != want {
			t.Fatalf("apply with an unknown field: %s\nwant stderr %q", res, want)
		}
	})

	var pod string
	t.Run("get", func(t *testing.T) {
		// rollout status: a plain list and watch, no watch-list in 1.20.
		wantLine(t, ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=90s"), `successfully rolled out`)
		out := ok(t, "get", "pods", "-n", "shop")
		wantLine(t, out, `^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`)
		wantLine(t, out, `^web-\S+\s+1/1\s+Running\s+0\s`)
		pod = strings.Fields(strings.Split(strings.TrimSpace(out), "\n")[1])[0]
		wantLine(t, ok(t, "get", "pods", "-n", "shop", "-o", "wide"), `^`+pod+`\s+1/1\s+Running\s+0\s+\S+\s+10\.\S+\s+host\d`)
		wantLine(t, ok(t, "get", "pod", pod, "-n", "shop", "-o", "yaml"), `^kind: Pod$`)
		wantLine(t, ok(t, "get", "deploy", "-n", "shop", "-o", "wide"), `^web\s+2/2\s+2\s+2\s+\S+\s+app\s+localhost/busybox:latest\s+app=web$`)
		wantLine(t, ok(t, "get", "deploy", "web", "-n", "shop", "-o", "yaml"), `^kind: Deployment$`)
		wantLine(t, ok(t, "get", "rs", "-n", "shop"), `^web-\S+\s+2\s+2\s+2\s`)
		wantLine(t, ok(t, "get", "rs", "-n", "shop", "-o", "yaml"), `^  kind: ReplicaSet$`)
		wantLine(t, ok(t, "get", "ns", "shop", "-o", "yaml"), `^kind: Namespace$`)
		wantLine(t, ok(t, "get", "events", "-n", "shop"), `Scheduled`)
		wantLine(t, ok(t, "get", "events", "-n", "shop", "-o", "wide"), `Scheduled`)
		wantLine(t, ok(t, "get", "events", "-n", "shop", "-o", "yaml"), `^  kind: Event$`)
	})

	t.Run("describe", func(t *testing.T) {
		out := ok(t, "describe", "pod", pod, "-n", "shop")
		wantLine(t, out, `^Name:\s+`+pod+`$`)
		wantLine(t, out, `^Status:\s+Running$`)
		wantLine(t, out, `Scheduled`)
		wantLine(t, ok(t, "describe", "deployment", "web", "-n", "shop"), `^Replicas:\s+2 desired`)
		wantLine(t, ok(t, "describe", "node", c.Name(1)), `^Name:\s+`+c.Name(1)+`$`)
	})

	t.Run("logs", func(t *testing.T) {
		wantLine(t, ok(t, "logs", pod, "-n", "shop"), `^started$`)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.Kubeconfig(), "logs", "-f", pod, "-n", "shop")
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		Eventually(t, 15*time.Second, func() error {
			if !strings.Contains(out.String(), "started") {
				return fmt.Errorf("logs -f printed %q so far", out.String())
			}
			return nil
		})
		if cmd.ProcessState != nil {
			t.Fatalf("logs -f ended by itself")
		}
	})

	t.Run("exec", func(t *testing.T) {
		// SPDY: 1.20 knows no WebSocket exec.
		res := k(t, "exec", pod, "-n", "shop", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		if res.ExitCode != 3 || !strings.Contains(res.Stdout, "out") || !strings.Contains(res.Stderr, "err") {
			t.Fatalf("exec: exit %d, stdout %q, stderr %q; want 3, out, err", res.ExitCode, res.Stdout, res.Stderr)
		}
		wantLine(t, ok(t, "exec", pod, "-n", "shop", "--", "hostname"), `^`+pod+`$`)
	})

	t.Run("port-forward", func(t *testing.T) {
		// SPDY too, in 1.20.
		port := freePort(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.Kubeconfig(), "port-forward", "-n", "shop", "pod/"+pod, fmt.Sprintf("%d:8080", port))
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		Eventually(t, 20*time.Second, func() error {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			if err != nil {
				return fmt.Errorf("dial: %v (kubectl: %s)", err, out.String())
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
			b, _ := io.ReadAll(conn)
			if !strings.Contains(string(b), "hello-from-"+pod) {
				return fmt.Errorf("read %q through the forward (kubectl: %s)", b, out.String())
			}
			return nil
		})
	})

	t.Run("scale and rollout", func(t *testing.T) {
		wantLine(t, ok(t, "scale", "deployment/web", "-n", "shop", "--replicas=3"), `^deployment.apps/web scaled$`)
		wantLine(t, ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=90s"), `successfully rolled out`)
		wantLine(t, ok(t, "get", "deploy", "web", "-n", "shop"), `^web\s+3/3\s`)
		out := ok(t, "rollout", "history", "deployment/web", "-n", "shop")
		wantLine(t, out, `^REVISION\s+CHANGE-CAUSE$`)
		wantLine(t, out, `^1\s+<none>$`)
	})

	t.Run("label and annotate", func(t *testing.T) {
		wantLine(t, ok(t, "label", "deployment", "web", "-n", "shop", "team=a"), `^deployment.apps/web labeled$`)
		wantLine(t, ok(t, "annotate", "deployment", "web", "-n", "shop", "note=hi"), `^deployment.apps/web annotated$`)
		wantLine(t, ok(t, "get", "deploy", "-n", "shop", "-l", "team=a", "-o", "name"), `^deployment.apps/web$`)
	})

	t.Run("get -w", func(t *testing.T) {
		// A plain watch of one-row Tables.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.Kubeconfig(), "get", "deployments", "-n", "shop", "-w")
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = cmd.Wait() }()
		Eventually(t, 15*time.Second, func() error {
			if !regexp.MustCompile(`(?m)^web\s+3/3\s`).MatchString(out.String()) {
				return fmt.Errorf("get -w printed %q so far", out.String())
			}
			return nil
		})
		ok(t, "scale", "deployment/web", "-n", "shop", "--replicas=2")
		Eventually(t, 45*time.Second, func() error {
			if !regexp.MustCompile(`(?m)^web\s+2/2\s`).MatchString(out.String()) {
				return fmt.Errorf("get -w printed no 2/2 row yet:\n%s", out.String())
			}
			return nil
		})
	})

	t.Run("restart, set image, rollout history and undo", func(t *testing.T) {
		wantLine(t, ok(t, "rollout", "restart", "deployment/web", "-n", "shop"), `^deployment.apps/web restarted$`)
		wantLine(t, ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=120s"), `successfully rolled out`)
		wantLine(t, ok(t, "set", "image", "deployment/web", "-n", "shop", "app=localhost/busybox"), `^deployment.apps/web image updated$`)
		wantLine(t, ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=120s"), `successfully rolled out`)
		out := ok(t, "rollout", "history", "deployment/web", "-n", "shop")
		for _, rev := range []string{"1", "2", "3"} {
			wantLine(t, out, `^`+rev+`\s+<none>$`)
		}
		wantLine(t, ok(t, "rollout", "history", "deployment/web", "-n", "shop", "--revision=3"), `Image:\s+localhost/busybox$`)
		// 1.20 rolls back client-side: it finds revision 2's ReplicaSet
		// and patches its template into the Deployment, which makes it 4.
		wantLine(t, ok(t, "rollout", "undo", "deployment/web", "-n", "shop"), `^deployment.apps/web rolled back$`)
		wantLine(t, ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=120s"), `successfully rolled out`)
		if img := ok(t, "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "localhost/busybox:latest" {
			t.Fatalf("image after undo: %q", img)
		}
		out = ok(t, "rollout", "history", "deployment/web", "-n", "shop")
		wantLine(t, out, `^4\s+<none>$`)
		if regexp.MustCompile(`(?m)^2\s`).MatchString(out) {
			t.Fatalf("revision 2 is still listed after undo made it 4:\n%s", out)
		}
	})

	t.Run("refused", func(t *testing.T) {
		// What gossipod does not do, refused in the words of a 1.20
		// client: no metrics API; no dry-run, which 1.20 learns from the
		// dryRun parameter /openapi/v2 does not list, before it sends
		// anything; no server-side apply, a 415 from the server.
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"top", "pods", "-n", "shop"}, "error: Metrics API not available"},
			{[]string{"diff", "-f", manifest}, "error: apps/v1, Kind=Deployment doesn't support dry-run"},
			{[]string{"apply", "--dry-run=server", "-f", manifest}, "error: apps/v1, Kind=Deployment doesn't support dry-run"},
			{[]string{"apply", "--server-side", "-f", manifest}, "error: Server-side apply not available on the server: " +
				"(the body of the request was in an unknown format - accepted media types include: application/json-patch+json, " +
				"application/merge-patch+json, application/strategic-merge-patch+json " +
				"(gossipod does not implement server-side apply; use kubectl apply without --server-side))"},
		} {
			if res := k(t, tc.args...); res.ExitCode == 0 || strings.TrimSpace(res.Stderr) != tc.want {
				t.Errorf("kubectl %s: %s\nwant stderr %q", strings.Join(tc.args, " "), res, tc.want)
			}
		}
	})

	t.Run("cordon and uncordon", func(t *testing.T) {
		node := c.Name(2)
		wantLine(t, ok(t, "cordon", node), `^node/`+node+` cordoned$`)
		wantLine(t, ok(t, "get", "node", node), `^`+node+`\s+Ready,SchedulingDisabled\s`)
		wantLine(t, ok(t, "uncordon", node), `^node/`+node+` uncordoned$`)
		wantLine(t, ok(t, "get", "node", node), `^`+node+`\s+Ready\s`)
	})

	t.Run("drain", func(t *testing.T) {
		// 1.20 evicts only when /apis lists the policy group, and gossipod
		// serves nothing of it but the pods' eviction subresource: 1.20
		// deletes the pods instead, so no Deployment's maxUnavailable
		// holds it back. It then names the node with the last operation
		// it printed ("deleted"), a 1.20 bug fixed in 1.21: nothing
		// deletes the node.
		// A node that runs one of web's pods, so there is one to move.
		// The pods of an earlier rollout may still be terminating: wait
		// until only the Deployment's replicas are left, so the node
		// picked runs one that drain must move.
		ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=90s")
		want := ok(t, "get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}")
		Eventually(t, 60*time.Second, func() error {
			out := strings.Fields(ok(t, "get", "pods", "-n", "shop", "-o", "name"))
			if fmt.Sprint(len(out)) != want {
				return fmt.Errorf("%d pods, want the Deployment's %s: %v", len(out), want, out)
			}
			return nil
		})
		node := ok(t, "get", "pods", "-n", "shop", "-o", "jsonpath={.items[0].spec.nodeName}")
		res := k(t, "drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s")
		if err := res.Err(); err != nil {
			t.Fatalf("drain: %v", err)
		}
		wantLine(t, res.Stdout, `^node/`+node+` cordoned$`)
		if strings.Contains(res.Stdout, "evicted") {
			t.Fatalf("1.20 evicted, so /apis lists the policy group now: update this test and the README\n%s", res.Stdout)
		}
		wantLine(t, res.Stdout, `^pod/web-\S+ deleted$`)
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		wantLine(t, lines[len(lines)-1], `^node/`+node+` deleted$`)
		if out := ok(t, "get", "pods", "-A", "--field-selector", "spec.nodeName="+node, "-o", "name"); strings.TrimSpace(out) != "" {
			t.Fatalf("pods left on the drained node: %s", out)
		}
		wantLine(t, ok(t, "get", "node", node), `^`+node+`\s+Ready,SchedulingDisabled\s`)
		wantLine(t, ok(t, "uncordon", node), `^node/`+node+` uncordoned$`)
		wantLine(t, ok(t, "rollout", "status", "deployment/web", "-n", "shop", "--timeout=90s"), `successfully rolled out`)
	})

	t.Run("delete", func(t *testing.T) {
		wantLine(t, ok(t, "delete", "-f", manifest), `^deployment.apps "web" deleted$`)
		wantLine(t, ok(t, "delete", "namespace", "shop"), `^namespace "shop" deleted$`)
		res := k(t, "get", "namespace", "shop")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, `namespaces "shop" not found`) {
			t.Fatalf("namespace after delete (which waits): %s", res)
		}
	})
}
