package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostNetPort is where a hostNetPod serves, on its node's own address.
const hostNetPort = 18081

// hostNetPod is a pod on its node's network namespace, pinned to one node, that
// serves its own name over HTTP on hostNetPort. Its port names no hostPort: the API
// defaults it to the containerPort. Arguments: name, node.
const hostNetPod = `apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  labels:
    hostnettest: web
spec:
  hostNetwork: true
  nodeSelector:
    kubernetes.io/hostname: %[2]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "mkdir -p /www && echo %[1]s > /www/index.html && exec httpd -f -p %[3]d -h /www"]
    ports:
    - containerPort: %[3]d
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`

// hostNetService selects the hostNetPods.
const hostNetService = `apiVersion: v1
kind: Service
metadata:
  name: hostweb
spec:
  selector:
    hostnettest: web
  ports:
  - port: 80
    targetPort: 18081
`

// TestHostNetworkPod shows hostNetwork on real agents, through the CLI: the default
// namespace (baseline) refuses the pod with Pod Security's words; once the namespace is
// privileged, the pod runs on host0 with host0's address as its podIP and hostPort
// defaulted to its containerPort, and serves on host0's address, from host1; a Service
// over it gets host0's address as its endpoint, and its cluster IP reaches the pod
// from a pod on host1. Host0's pod network holds nothing for it (no lease, veth or
// record), and its removal leaves host0's address and agent as they were.
func TestHostNetworkPod(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 2, AgentArgs: BootstrapExpect(2)})
	c.CleanupPods()
	waitFormed(t, c, 2, 0)
	c.LoadImage(0)
	c.LoadImage(1)
	manifest := fmt.Sprintf(hostNetPod, "hostweb", c.Name(0), hostNetPort)

	res := c.Apply(0, manifest)
	const refusal = `violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPort (container "web" uses hostPort 18081)`
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, refusal) {
		t.Fatalf("a hostNetwork pod in a baseline namespace: want a refusal with %q, got:\n%s", refusal, res)
	}

	c.PrivilegedNamespace(0, "default")
	before, err := networkFootprint(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	c.MustApply(0, manifest)
	// A pod on the pod network of host1, for the Service check (netPod's web
	// container serves on another hostPort, unused here).
	c.MustApply(1, fmt.Sprintf(netPod, "client", c.Name(1), "client", 30081))
	p := c.WaitPod(0, "hostweb", scheduleTimeout+runTimeout, boundTo(c.Name(0)))
	c.WaitPod(0, "client", scheduleTimeout+runTimeout, boundTo(c.Name(1)))
	if p.Status.PodIP != c.IP(0) {
		t.Errorf("status.podIP %q, want the node's address %s", p.Status.PodIP, c.IP(0))
	}
	var spec struct {
		Spec struct {
			Containers []struct {
				Ports []struct {
					HostPort int `json:"hostPort"`
				} `json:"ports"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if err := c.decodeJSON(0, &spec, "get", "pod", "hostweb", "-o", "json"); err != nil {
		t.Fatal(err)
	} else if got := spec.Spec.Containers[0].Ports[0].HostPort; got != hostNetPort {
		t.Errorf("hostPort %d, want the containerPort %d", got, hostNetPort)
	}

	t.Run("no pod network for it", func(t *testing.T) {
		fp, err := networkFootprint(c, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fp.leases() != before.leases() || fp.veths() != before.veths() || fp.records() != before.records() || len(fp.Cache) != len(before.Cache) {
			t.Errorf("%s with a hostNetwork pod: %s; before it: %s", c.Name(0), fp.summary(), before.summary())
		}
	})

	t.Run("served on the node's address", func(t *testing.T) {
		c := c.WithT(t)
		Eventually(t, probeTimeout, func() error {
			res := c.Exec(1, 10*time.Second, "sh", "-c", httpProbe("busybox nc", c.IP(0), hostNetPort))
			if err := checkServed(res, "hostweb"); err != nil {
				return fmt.Errorf("from %s's namespace to %s:%d: %w", c.Name(1), c.IP(0), hostNetPort, err)
			}
			return nil
		})
	})

	t.Run("a Service's endpoint is the node's address", func(t *testing.T) {
		c := c.WithT(t)
		path := filepath.Join(t.TempDir(), "svc.yaml")
		if err := os.WriteFile(path, []byte(hostNetService), 0o644); err != nil {
			t.Fatal(err)
		}
		if res := c.Kubectl("apply", "-f", path); res.Err() != nil {
			t.Fatalf("kubectl apply: %v", res.Err())
		}
		t.Cleanup(func() { c.Kubectl("delete", "svc", "hostweb", "--ignore-not-found") })
		var svc svcInfo
		Eventually(t, probeTimeout, func() error {
			var sl sliceList
			if err := c.KubectlJSON(&sl, "get", "endpointslices", "-l", "kubernetes.io/service-name=hostweb"); err != nil {
				return err
			}
			var addrs []string
			for _, s := range sl.Items {
				for _, ep := range s.Endpoints {
					addrs = append(addrs, ep.Addresses...)
				}
			}
			if len(addrs) != 1 || addrs[0] != c.IP(0) {
				return fmt.Errorf("endpoints %v, want only the node's address %s", addrs, c.IP(0))
			}
			return c.KubectlJSON(&svc, "get", "svc", "hostweb")
		})
		// From a pod: the hosts' own namespaces have no route to the service
		// CIDR here (no default route on the test bridge).
		Eventually(t, probeTimeout, func() error {
			res := c.RunOn(1, "exec", "client", "-c", "side", "--", "sh", "-c", httpProbe("nc", svc.Spec.ClusterIP, 80))
			if err := checkServed(res, "hostweb"); err != nil {
				return fmt.Errorf("from pod client on %s through %s:80: %w", c.Name(1), svc.Spec.ClusterIP, err)
			}
			return nil
		})
	})
	t.Run("its removal leaves the node's network", func(t *testing.T) {
		c := c.WithT(t)
		if res := c.RunOn(0, "delete", "pod", "hostweb", "--timeout", podGoneTimeout.String()); res.Err() != nil {
			t.Fatalf("delete: %v", res.Err())
		}
		res := c.Exec(0, 10*time.Second, "ip", "-o", "-4", "addr", "show")
		if res.Err() != nil || !strings.Contains(res.Stdout, "inet "+c.IP(0)+"/") {
			t.Fatalf("%s's address %s gone from its namespace: %s", c.Name(0), c.IP(0), res)
		}
		if _, err := c.Pod(1, "client"); err != nil {
			t.Fatalf("the cluster no longer answers through %s: %v", c.Name(1), err)
		}
		// The agent on host0 still answers on its address.
		if _, err := c.Pod(0, "client"); err != nil {
			t.Fatalf("%s's agent no longer answers on its address: %v", c.Name(0), err)
		}
	})
}
