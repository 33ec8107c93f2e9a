package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// guardPod is a pod pinned to one node whose only container serves its own name over
// HTTP on the agents' API port number, 7948, published as a hostPort: pods may use the
// agents' port numbers for themselves. Arguments: name, node, hostPort.
const guardPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels:
    guardtest: "yes"
spec:
  nodeSelector:
    kubernetes.io/hostname: %[2]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo %[1]s > /www/index.html && exec httpd -f -p 7948 -h /www"]
    ports:
    - containerPort: 7948
      hostPort: %[3]d
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`

// connectProbe is a shell command that opens a TCP connection to ip:port with nc
// (bounded by timeout: busybox wget -T crashes), sends an HTTP request, and prints
// "rc=<nc's exit status>" and nc's error output: rc=0 once connected (every agent
// listener closes the connection after the request, as does httpd), rc=1 with
// "Connection refused" when refused, rc=124 when it hung.
func connectProbe(nc, ip string, port int) string {
	return fmt.Sprintf(`out=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 %s %s %d 2>&1 >/dev/null); echo "rc=$? $out"`, nc, ip, port)
}

// probeFromPod runs connectProbe in pod's container through host via's API.
func probeFromPod(c *Cluster, via int, pod, ip string, port int) (string, error) {
	res := c.RunOn(via, "exec", pod, "--", "sh", "-c", connectProbe("nc", ip, port))
	if err := res.Err(); err != nil {
		return "", err
	}
	return strings.TrimSpace(res.Stdout), nil
}

// wantRefused judges a connectProbe result: refused at once (a reset from the guard,
// not a hang).
func wantRefused(out string) error {
	if !strings.HasPrefix(out, "rc=1 ") || !strings.Contains(out, "refused") {
		return fmt.Errorf("got %q, want the connection refused", out)
	}
	return nil
}

// TestPodsCannotReachAgents shows point 7 of issue 10 on real agents: a pod cannot
// open a TCP connection to the gossip, Raft or API port (7946-7948) of its own host or
// of another host, whereas the hosts themselves reach those ports, a pod reaches
// another pod listening on 7948, on its host and across hosts, and hostPorts work
// (here leading to a pod's port 7948); the protection is back after the agent is
// SIGKILLed and restarted. Host 1 runs with --allow-pod-access-to-agent, and its pod
// does reach its own agent: the protection is on unless a user turns it off.
func TestPodsCannotReachAgents(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 2, AgentArgs: func(c *Cluster, i int) []string {
		args := BootstrapExpect(2, 0, 1)(c, i)
		if i == 1 {
			args = append(args, "--allow-pod-access-to-agent")
		}
		return args
	}})
	c.CleanupPods()
	waitFormed(t, c, 2, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	c.PrivilegedNamespace(0, "default") // hostPort pods
	// a and a2 on host 0 (protected), b on host 1 (protection turned off).
	c.MustApply(0, fmt.Sprintf(guardPod, "guard-a", c.Name(0), 30090)+"---\n"+
		fmt.Sprintf(guardPod, "guard-a2", c.Name(0), 30091)+"---\n"+
		fmt.Sprintf(guardPod, "guard-b", c.Name(1), 30092))
	a := c.WaitPod(0, "guard-a", scheduleTimeout+runTimeout, boundTo(c.Name(0)))
	a2 := c.WaitPod(0, "guard-a2", scheduleTimeout+runTimeout, boundTo(c.Name(0)))
	b := c.WaitPod(0, "guard-b", scheduleTimeout+runTimeout, boundTo(c.Name(1)))
	agentPorts := []int{GossipPort, RaftPort, APIPort}

	refusedEverywhere := func(t *testing.T, c *Cluster) {
		for _, host := range []int{0, 1} {
			for _, port := range agentPorts {
				Eventually(t, probeTimeout, func() error {
					out, err := probeFromPod(c, 0, "guard-a", c.IP(host), port)
					if err != nil {
						return err
					}
					if err := wantRefused(out); err != nil {
						return fmt.Errorf("pod on %s to %s's agent at %s:%d: %w", c.Name(0), c.Name(host), c.IP(host), port, err)
					}
					return nil
				})
			}
		}
	}

	t.Run("the hosts reach each other's agent ports", func(t *testing.T) {
		c := c.WithT(t)
		for from, to := range []int{1, 0} {
			for _, port := range agentPorts {
				res := c.Exec(from, 15*time.Second, "sh", "-c", connectProbe("busybox nc", c.IP(to), port))
				if out := strings.TrimSpace(res.Stdout); res.Err() != nil || !strings.HasPrefix(out, "rc=0") {
					t.Errorf("%s to %s:%d: %q, want connected\n%s", c.Name(from), c.IP(to), port, out, res)
				}
			}
		}
	})

	t.Run("a pod cannot connect to the agent ports of its own host or another host", func(t *testing.T) {
		refusedEverywhere(t, c.WithT(t))
	})

	t.Run("pods reach pods and hostPorts on port 7948", func(t *testing.T) {
		c := c.WithT(t)
		for _, to := range []struct {
			ip   string
			port int
			want string
		}{
			{a2.Status.PodIP, 7948, "guard-a2"}, // a pod on the same host
			{b.Status.PodIP, 7948, "guard-b"},   // a pod on another host
			{c.IP(0), 30091, "guard-a2"},        // a hostPort of the pod's own host
			{c.IP(1), 30092, "guard-b"},         // a hostPort of another host
		} {
			Eventually(t, probeTimeout, func() error {
				res := c.RunOn(0, "exec", "guard-a", "--", "sh", "-c", httpProbe("timeout 10 nc", to.ip, to.port))
				if err := checkServed(res, to.want); err != nil {
					return fmt.Errorf("guard-a (%s) to %s:%d: %w", a.Status.PodIP, to.ip, to.port, err)
				}
				return nil
			})
		}
	})

	t.Run("--allow-pod-access-to-agent lets the host's pods reach its agent", func(t *testing.T) {
		c := c.WithT(t)
		if ip, err := netip.ParseAddr(b.Status.PodIP); err != nil || !clusterCIDR.Contains(ip) {
			t.Fatalf("guard-b's IP %q is not a pod IP", b.Status.PodIP)
		}
		Eventually(t, probeTimeout, func() error {
			out, err := probeFromPod(c, 1, "guard-b", c.IP(1), APIPort)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(out, "rc=0") {
				return fmt.Errorf("pod on %s to its agent at %s:%d: %q, want connected", c.Name(1), c.IP(1), APIPort, out)
			}
			return nil
		})
	})

	t.Run("after a crash and restart of the agent, pods are still kept out", func(t *testing.T) {
		c := c.WithT(t)
		c.Kill(0)
		c.Start(0)
		waitFormed(t, c, 2, 0)
		refusedEverywhere(t, c)
	})
}
