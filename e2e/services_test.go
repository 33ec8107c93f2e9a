package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// svcManifest is a Service over the pods labelled nettest=svc: port 80 to
// their web containers' 8080, published as a node port too.
const svcManifest = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    nettest: svc
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30880
`

// svcInfo is the part of `get svc -o json` the test reads.
type svcInfo struct {
	Spec struct {
		ClusterIP string `json:"clusterIP"`
	} `json:"spec"`
}

// sliceList is the part of `get endpointslices -o json` the test reads.
type sliceList struct {
	Items []struct {
		Endpoints []struct {
			Addresses  []string `json:"addresses"`
			Conditions struct {
				Ready *bool `json:"ready"`
			} `json:"conditions"`
		} `json:"endpoints"`
	} `json:"items"`
}

// TestServices shows issue 12's Service data plane on real agents: a
// NodePort Service over one pod on each of 3 hosts gets a cluster IP from
// the service CIDR and EndpointSlices with the 3 pods ready; from a pod on
// every host, connections to the cluster IP reach all 3 pods, across hosts;
// the node port answers on every host's address; every pod resolves the
// Service's name through its node's cluster DNS; deleting the Service
// leaves no service rule behind on any host.
func TestServices(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	c.PrivilegedNamespace(0, "default") // hostPort pods
	pods := make([]Pod, c.N())
	for i := range c.N() {
		c.MustApply(i, fmt.Sprintf(netPod, svcPodName(i), c.Name(i), "svc", 31000+i))
	}
	for i := range c.N() {
		pods[i] = c.WaitPod(0, svcPodName(i), scheduleTimeout+runTimeout, boundTo(c.Name(i)))
	}
	// Services are driven with real kubectl, as users do (gossipod's own
	// CLI does not handle them yet).
	manifest := filepath.Join(t.TempDir(), "svc.yaml")
	if err := os.WriteFile(manifest, []byte(svcManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := c.Kubectl("apply", "-f", manifest); res.Err() != nil {
		t.Fatalf("kubectl apply: %v", res.Err())
	}

	var svc svcInfo
	Eventually(t, formTimeout, func() error {
		if err := c.KubectlJSON(&svc, "get", "svc", "web"); err != nil {
			return err
		}
		if !strings.HasPrefix(svc.Spec.ClusterIP, "10.") {
			return fmt.Errorf("cluster IP %q", svc.Spec.ClusterIP)
		}
		return nil
	})
	t.Logf("service web has cluster IP %s", svc.Spec.ClusterIP)

	t.Run("the EndpointSlices list the 3 pods, ready", func(t *testing.T) {
		Eventually(t, probeTimeout, func() error {
			var sl sliceList
			if err := c.KubectlJSON(&sl, "get", "endpointslices", "-l", "kubernetes.io/service-name=web"); err != nil {
				return err
			}
			ready := map[string]bool{}
			for _, s := range sl.Items {
				for _, ep := range s.Endpoints {
					if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
						ready[ep.Addresses[0]] = true
					}
				}
			}
			for _, p := range pods {
				if !ready[p.Status.PodIP] {
					return fmt.Errorf("pod %s (%s) not a ready endpoint: %v", p.Metadata.Name, p.Status.PodIP, ready)
				}
			}
			return nil
		})
	})

	t.Run("from a pod on every host, the cluster IP reaches every pod", func(t *testing.T) {
		c := c.WithT(t)
		for i, from := range pods {
			seen := map[string]bool{}
			// Random choice among 3: 60 tries miss one with p < 1e-10.
			Eventually(t, 2*probeTimeout, func() error {
				for range 60 {
					res := c.RunOn(i, "exec", from.Metadata.Name, "-c", "side", "--",
						"sh", "-c", httpProbe("nc", svc.Spec.ClusterIP, 80))
					for _, p := range pods {
						if checkServed(res, p.Metadata.Name) == nil {
							seen[p.Metadata.Name] = true
						}
					}
					if len(seen) == len(pods) {
						return nil
					}
				}
				return fmt.Errorf("from %s through %s:80 reached only %v", from.Metadata.Name, svc.Spec.ClusterIP, seen)
			})
		}
	})

	t.Run("the node port answers on every host's address", func(t *testing.T) {
		c := c.WithT(t)
		for j := range c.N() {
			i := (j + 1) % c.N() // from another host's namespace
			Eventually(t, probeTimeout, func() error {
				res := c.Exec(i, 10*time.Second, "sh", "-c", httpProbe("busybox nc", c.IP(j), 30880))
				for _, p := range pods {
					if checkServed(res, p.Metadata.Name) == nil {
						return nil
					}
				}
				return fmt.Errorf("from %s to %s:30880: %s", c.Name(i), c.IP(j), res)
			})
		}
	})

	t.Run("pods resolve the Service's name through their node's cluster DNS", func(t *testing.T) {
		c := c.WithT(t)
		for i, from := range pods {
			// kubelet's resolv.conf for ClusterFirst: the node's DNS
			// (on the pods' gateway), the cluster search path, ndots:5.
			res := c.RunOn(i, "exec", from.Metadata.Name, "-c", "side", "--", "cat", "/etc/resolv.conf")
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"search default.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5", "nameserver 10.88."} {
				if !strings.Contains(res.Stdout, want) {
					t.Errorf("%s's /etc/resolv.conf lacks %q:\n%s", from.Metadata.Name, want, res.Stdout)
				}
			}
			Eventually(t, probeTimeout, func() error {
				res := c.RunOn(i, "exec", from.Metadata.Name, "-c", "side", "--", "nslookup", "web.default.svc.cluster.local")
				if err := res.Err(); err != nil {
					return err
				}
				if !strings.Contains(res.Stdout, "Address: "+svc.Spec.ClusterIP) {
					return fmt.Errorf("%s: nslookup web.default.svc.cluster.local:\n%s", from.Metadata.Name, res.Stdout)
				}
				return nil
			})
		}
	})

	t.Run("deleting the Service leaves no service rule on any host", func(t *testing.T) {
		c := c.WithT(t)
		if res := c.Kubectl("delete", "svc", "web"); res.Err() != nil {
			t.Fatal(res.Err())
		}
		for i := range c.N() {
			Eventually(t, probeTimeout, func() error {
				res := c.Exec(i, 10*time.Second, "nft", "list", "table", "ip", "gossipod-proxy")
				if err := res.Err(); err != nil {
					return err
				}
				if strings.Contains(res.Stdout, "default/web") || strings.Contains(res.Stdout, svc.Spec.ClusterIP) {
					return fmt.Errorf("%s still has rules of default/web:\n%s", c.Name(i), res.Stdout)
				}
				return nil
			})
		}
	})
}

func svcPodName(i int) string { return fmt.Sprintf("svc-%d", i) }
