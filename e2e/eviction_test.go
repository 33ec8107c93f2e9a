package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// fillsEmptyDir writes 4 MiB into an emptyDir limited to 1 MiB.
const fillsEmptyDir = `apiVersion: v1
kind: Pod
metadata:
  name: fills-emptydir
spec:
  restartPolicy: Never
  containers:
  - name: writer
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "dd if=/dev/zero of=/cache/fill bs=1024 count=4096 && sync && exec sleep 3600"]
    volumeMounts:
    - name: cache
      mountPath: /cache
  volumes:
  - name: cache
    emptyDir:
      sizeLimit: 1Mi
`

// TestDiskPressureAndEviction (issue 14's must-show, through real kubectl):
// an agent whose disk is under its threshold (--eviction-hard
// nodefs.available<99%) reports DiskPressure and carries the
// disk-pressure taint, so a pod goes to the other node; there, writing
// past its emptyDir's sizeLimit, the pod is evicted with kubelet's reason
// and message.
func TestDiskPressureAndEviction(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 2, AgentArgs: func(c *Cluster, i int) []string {
		args := BootstrapExpect(2)(c, i)
		if i == 1 {
			args = append(args, "--eviction-hard", "nodefs.available<99%")
		}
		return args
	}})
	c.CleanupPods()
	waitFormed(t, c, 2, 0)
	c.LoadImage(0)

	Eventually(t, time.Minute, func() error {
		res := c.Kubectl("get", "node", c.Name(1), "-o",
			`jsonpath={.status.conditions[?(@.type=="DiskPressure")].reason} {.spec.taints[*].key}`)
		if err := res.Err(); err != nil {
			return err
		}
		if got := strings.TrimSpace(res.Stdout); got != "KubeletHasDiskPressure node.kubernetes.io/disk-pressure" {
			return fmt.Errorf("%s: DiskPressure reason and taints %q", c.Name(1), got)
		}
		return nil
	})
	res := c.Kubectl("get", "node", c.Name(0), "-o", `jsonpath={.status.conditions[?(@.type=="DiskPressure")].status} {.spec.taints}`)
	if got := strings.TrimSpace(res.Stdout); got != "False" {
		t.Errorf("%s: DiskPressure and taints %q, want False and none", c.Name(0), got)
	}

	c.MustApply(0, fillsEmptyDir)
	p := c.WaitPod(0, "fills-emptydir", scheduleTimeout+runTimeout+30*time.Second, func(p Pod) error {
		if p.Status.Reason != "Evicted" {
			return fmt.Errorf("fills-emptydir on %q: phase %s, reason %q", p.Spec.NodeName, p.Status.Phase, p.Status.Reason)
		}
		return nil
	})
	if p.Spec.NodeName != c.Name(0) {
		t.Errorf("fills-emptydir ran on %s, a node under disk pressure", p.Spec.NodeName)
	}
	if want := `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `; p.Status.Phase != "Failed" || p.Status.Message != want {
		t.Errorf("phase %s, message %q; want Failed, %q", p.Status.Phase, p.Status.Message, want)
	}
}
