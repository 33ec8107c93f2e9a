package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bounds on pod progress, hang detectors like the cluster timeouts above.
const (
	scheduleTimeout = 30 * time.Second // bound, or Pending with its reason
	runTimeout      = 60 * time.Second // from bound to Running (image present)
)

// example returns the content of examples/<name>, the manifests the README shows.
func example(t testing.TB, name string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// renamed returns a pod manifest with its metadata.name changed from old to name.
func renamed(t testing.TB, manifest, old, name string) string {
	t.Helper()
	line := "\n  name: " + old + "\n"
	if strings.Count(manifest, line) != 1 {
		t.Fatalf("manifest has no single %q line to rename", strings.TrimSpace(line))
	}
	return strings.Replace(manifest, line, "\n  name: "+name+"\n", 1)
}

// boundTo returns a check for WaitPod: the pod runs on node.
func boundTo(node string) func(Pod) error {
	return func(p Pod) error {
		if p.Spec.NodeName != node {
			return fmt.Errorf("pod %s is bound to %q, want %s", p.Metadata.Name, p.Spec.NodeName, node)
		}
		return p.Running()
	}
}

// unschedulable returns a check for WaitPod: the pod is Pending, unbound, with
// PodScheduled=False, reason Unschedulable and a message containing every want.
func unschedulable(want ...string) func(Pod) error {
	return func(p Pod) error {
		if p.Spec.NodeName != "" || p.Status.Phase != "Pending" {
			return fmt.Errorf("pod %s is %q on %q, want Pending and unbound", p.Metadata.Name, p.Status.Phase, p.Spec.NodeName)
		}
		cond, ok := p.Condition("PodScheduled")
		if !ok || cond.Status != "False" || cond.Reason != "Unschedulable" {
			return fmt.Errorf("pod %s: PodScheduled condition %+v (present: %t), want False/Unschedulable", p.Metadata.Name, cond, ok)
		}
		for _, w := range want {
			if !strings.Contains(cond.Message, w) {
				return fmt.Errorf("pod %s: PodScheduled message %q does not contain %q", p.Metadata.Name, cond.Message, w)
			}
		}
		return nil
	}
}

// TestSeedPodPlacement is the seeds' scenario on real agents: host0 offers 3Gi of
// memory, host1 2.5Gi, host2 1Gi; the example pod of three containers requesting 1Gi
// each lands on host0 and runs, every time, whichever agent it is submitted to (the
// leader or either follower); a second such pod stays Pending with `Insufficient
// memory` in its PodScheduled condition and in a FailedScheduling event.
func TestSeedPodPlacement(t *testing.T) {
	memory := []string{"3Gi", "2560Mi", "1Gi"}
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: func(c *Cluster, i int) []string {
		return append(BootstrapExpect(3, 0, 1, 2)(c, i), "--memory", memory[i])
	}})
	c.CleanupPods()
	leader := c.Index(waitFormed(t, c, 3, 0))
	for i := range c.N() {
		c.LoadImage(i)
	}
	seed := example(t, "pod.yaml")
	second := renamed(t, seed, "seed-pod", "seed-pod-2")

	cases := []struct {
		name string
		via  int // the host whose API gets the manifests
	}{
		{"submitted to the leader", leader},
		{"submitted to a follower", (leader + 1) % c.N()},
		{"submitted to the other follower", (leader + 2) % c.N()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.WithT(t)
			if tc.via != leader {
				if peers, err := c.RaftPeers(tc.via); err == nil {
					for _, p := range peers {
						if p.Leader && p.ID == c.Name(tc.via) {
							t.Fatalf("%s was to be a follower but leads", c.Name(tc.via))
						}
					}
				}
			}
			c.MustApply(tc.via, seed)
			p := c.WaitPod(tc.via, "seed-pod", scheduleTimeout+runTimeout, boundTo(c.Name(0)))
			if n := len(p.Status.ContainerStatuses); n != 3 {
				t.Errorf("seed-pod has %d container statuses, want 3 (main, a, b): %+v", n, p.Status.ContainerStatuses)
			}

			c.MustApply(tc.via, second)
			// host0 is full, host1 (2.5Gi) and host2 (1Gi) are too small.
			c.WaitPod(tc.via, "seed-pod-2", scheduleTimeout,
				unschedulable("0/3 nodes are available", "3 Insufficient memory"))
			// It stays so: nothing changed that could make it fit.
			time.Sleep(2 * time.Second)
			p2, err := c.Pod(tc.via, "seed-pod-2")
			if err != nil {
				t.Fatal(err)
			}
			if err := unschedulable("Insufficient memory")(p2); err != nil {
				t.Errorf("2 s later: %v", err)
			}
			cond, _ := p2.Condition("PodScheduled")
			Eventually(t, scheduleTimeout, func() error {
				res := c.RunOn(tc.via, "describe", "pod", "seed-pod-2")
				if err := res.Err(); err != nil {
					return err
				}
				for _, line := range strings.Split(res.Stdout, "\n") {
					if strings.Contains(line, "FailedScheduling") && strings.Contains(line, cond.Message) {
						return nil
					}
				}
				return fmt.Errorf("describe pod seed-pod-2 shows no FailedScheduling event with %q:\n%s", cond.Message, res.Stdout)
			})

			// Free the cluster for the next round: the pending pod first, so it
			// cannot take host0 when seed-pod goes.
			c.DeletePod(tc.via, "seed-pod-2")
			c.DeletePod(tc.via, "seed-pod")
		})
	}
}

// TestPendingPodPlacedByNextLeader: a pod that cannot be placed while the leader lives
// is placed by the leader elected after it dies. Every host offers 2Gi; a "big" pod of
// 1.5Gi occupies follower X, and "waiter", which needs 1Gi on X (node selector), is
// Pending. The leader is killed, a new one elected, and big is deleted through a
// follower: only then does waiter fit, so only the new leader can place it.
func TestPendingPodPlacedByNextLeader(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: func(c *Cluster, i int) []string {
		return append(BootstrapExpect(3, 0, 1, 2)(c, i), "--memory", "2Gi")
	}})
	c.CleanupPods()
	oldLeader := waitFormed(t, c, 3, 0)
	dead := c.Index(oldLeader)
	x := (dead + 1) % c.N()
	for i := range c.N() {
		c.LoadImage(i)
	}
	pod := func(name, memory string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeSelector:
    kubernetes.io/hostname: %s
  containers:
  - name: main
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources:
      requests:
        memory: %s
`, name, c.Name(x), memory)
	}
	c.MustApply(dead, pod("big", "1536Mi"))
	c.WaitPod(dead, "big", scheduleTimeout+runTimeout, boundTo(c.Name(x)))
	c.MustApply(dead, pod("waiter", "1Gi"))
	c.WaitPod(dead, "waiter", scheduleTimeout, unschedulable("0/3 nodes are available", "1 Insufficient memory"))

	c.Kill(dead)
	survivors := hostsExcept(c, dead)
	var newLeader string
	Eventually(t, electionTimeout, func() error {
		var err error
		newLeader, err = commonLeader(c, survivors)
		if err == nil && newLeader == oldLeader {
			err = fmt.Errorf("survivors still follow the killed %s", oldLeader)
		}
		return err
	})
	follower := survivors[0]
	if c.Name(follower) == newLeader {
		follower = survivors[1]
	}
	t.Logf("killed leader %s; new leader %s; deleting big through follower %s", oldLeader, newLeader, c.Name(follower))
	if p, err := c.Pod(follower, "waiter"); err != nil {
		t.Fatal(err)
	} else if err := unschedulable("Insufficient memory")(p); err != nil {
		t.Fatalf("before big is deleted: %v", err)
	}

	c.DeletePod(follower, "big")
	c.WaitPod(follower, "waiter", scheduleTimeout+runTimeout, boundTo(c.Name(x)))
	res := c.RunOn(follower, "describe", "pod", "waiter")
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "Successfully assigned default/waiter to " + c.Name(x); !strings.Contains(res.Stdout, want) {
		t.Errorf("describe pod waiter lacks the Scheduled event %q:\n%s", want, res.Stdout)
	}
}

// TestManifestErrors: malformed manifests (bad YAML, unknown fields, wrong types,
// duplicate keys) and invalid ones (names, missing fields, ports, quantities, limits
// below requests, forbidden updates) are refused with a non-zero exit and an error that
// names every offending field path, and change nothing: the pod list is identical
// before and after, and a pod that was there is untouched.
func TestManifestErrors(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 1, AgentArgs: BootstrapExpect(1)})
	c.CleanupPods()
	waitFormed(t, c, 1, 0)
	c.LoadImage(0)
	const existing = `apiVersion: v1
kind: Pod
metadata:
  name: existing
  labels:
    app: existing
spec:
  containers:
  - name: main
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
`
	c.MustApply(0, existing)
	c.WaitPod(0, "existing", scheduleTimeout+runTimeout, Pod.Running)

	// header starts a pod manifest; each case adds its spec.
	const header = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n"
	const okContainer = `  - name: main
    image: localhost/busybox:latest
    command: ["sleep", "3600"]
`
	cases := []struct {
		name     string
		manifest string
		want     []string // each must appear in stderr
	}{
		{
			name:     "YAML syntax error",
			manifest: fmt.Sprintf(header, "broken") + "spec:\n  containers:\n  - name: main\n    image: [unclosed\n",
			want:     []string{"error parsing"},
		},
		{
			name:     "unsupported field",
			manifest: fmt.Sprintf(header, "probe") + "spec:\n  containers:\n" + okContainer + "    livenessProbe:\n      grpc:\n        port: 80\n        mode: TLS\n",
			want:     []string{"spec.containers[0].livenessProbe.grpc.mode"},
		},
		{
			name: "unknown fields and wrong types at once",
			manifest: fmt.Sprintf(header, "typos") + "  labelz: {a: b}\nspec:\n  restartPolicy: 1\n  containers:\n" + okContainer +
				"    ports:\n    - containerPort: \"http\"\n",
			want: []string{"metadata.labelz", "spec.restartPolicy", "spec.containers[0].ports[0].containerPort"},
		},
		{
			name:     "duplicate key in YAML",
			manifest: fmt.Sprintf(header, "dup") + "  name: dup-again\nspec:\n  containers:\n" + okContainer,
			want:     []string{"line 5", `key "name" already set`},
		},
		{
			name: "duplicate key in JSON",
			manifest: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dup", "name": "dup-again"},
			 "spec": {"containers": [{"name": "main", "image": "localhost/busybox:latest"}]}}`,
			want: []string{"metadata.name"},
		},
		{
			name:     "bad quantity",
			manifest: fmt.Sprintf(header, "quantity") + "spec:\n  containers:\n" + okContainer + "    resources:\n      requests:\n        memory: lots\n",
			want:     []string{"spec.containers[0].resources.requests.memory"},
		},
		{
			name: "every problem of an invalid pod",
			manifest: fmt.Sprintf(header, "Bad_Name") + `spec:
  restartPolicy: Sometimes
  containers:
  - name: main
    command: ["sleep", "3600"]
    ports:
    - containerPort: 70000
    resources:
      requests:
        memory: 2Gi
      limits:
        memory: 1Gi
    volumeMounts:
    - name: missing
      mountPath: /data
  - name: main
    image: localhost/busybox:latest
`,
			want: []string{
				"metadata.name",
				"spec.restartPolicy",
				"spec.containers[0].image",
				"spec.containers[0].ports[0].containerPort",
				"spec.containers[0].resources.limits.memory",
				"spec.containers[0].volumeMounts[0].name",
				"spec.containers[1].name",
			},
		},
		{
			name:     "no containers",
			manifest: fmt.Sprintf(header, "empty") + "spec:\n  containers: []\n",
			want:     []string{"spec.containers"},
		},
		{
			name:     "second document malformed: the first is not created either",
			manifest: fmt.Sprintf(header, "first-ok") + "spec:\n  containers:\n" + okContainer + "---\n" + fmt.Sprintf(header, "second") + "spec:\n  containerz: []\n",
			want:     []string{"spec.containerz"},
		},
		{
			name:     "forbidden update of a running pod",
			manifest: strings.Replace(existing, `["sleep", "3600"]`, `["sleep", "7200"]`, 1),
			want:     []string{"spec: Forbidden", "spec.containers[0].command"},
		},
		{
			name:     "invalid update of a running pod",
			manifest: strings.Replace(existing, "app: existing", "app: -not_a_label-", 1),
			want:     []string{"metadata.labels"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.WithT(t)
			before := c.RunOn(0, "get", "pods", "-A", "-o", "json")
			if err := before.Err(); err != nil {
				t.Fatal(err)
			}
			res := c.Apply(0, tc.manifest)
			switch {
			case res.TimedOut:
				t.Fatalf("apply hung:\n%s", res)
			case res.ExitCode == 0:
				t.Fatalf("apply of a bad manifest succeeded:\n%s", res)
			case strings.Contains(res.Stderr, "panic") || strings.Contains(res.Stderr, "goroutine "):
				t.Fatalf("apply panicked:\n%s", res)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, res.Stderr)
				}
			}
			after := c.RunOn(0, "get", "pods", "-A", "-o", "json")
			if err := after.Err(); err != nil {
				t.Fatal(err)
			}
			if before.Stdout != after.Stdout {
				t.Errorf("the pods changed although apply failed:\nbefore:\n%s\nafter:\n%s", before.Stdout, after.Stdout)
			}
			t.Logf("stderr of the refused apply:\n%s", res.Stderr)
		})
	}
}
