package runtime

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
)

// A readiness probe over HTTP keeps a real pod not Ready while the
// server answers 404, and Ready once it answers 200: the probe reaches
// the pod's server from inside its network namespace (the test node has
// no pod network), as kubelet reaches the pod's IP.
func TestRealReadinessProbe(t *testing.T) {
	h := newRealHarness(t)
	web := sh("web", "mkdir -p /srv && exec httpd -f -p 8080 -h /srv")
	web.Ports = []api.ContainerPort{{Name: "http", ContainerPort: 8080}}
	web.ReadinessProbe = &api.Probe{
		ProbeHandler:  api.ProbeHandler{HTTPGet: &api.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
		PeriodSeconds: 1,
	}
	p := busyboxPod("ready", web)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})

	h.waitPhase(uid, api.PodRunning)
	waitUntilFor(t, 30*time.Second, "a failed readiness probe", func() bool {
		return h.hasEvent(uid, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 404")
	})
	u := h.waitFor(uid, "running", func(PodUpdate) bool { return true })
	if c, pod, cr := podReady(u); c || pod || cr {
		t.Fatalf("Ready while the probe fails: container %v, Ready %v, ContainersReady %v", c, pod, cr)
	}
	if out, code := h.exec("ready", "web", "sh", "-c", "echo ok > /srv/ready"); code != 0 {
		t.Fatalf("creating /srv/ready: %d %s", code, out)
	}
	h.waitFor(uid, "Ready", func(u PodUpdate) bool { c, pod, cr := podReady(u); return c && pod && cr })
}

// A container that hangs (its health check stops answering in time) is
// killed by its liveness probe and restarted: restartCount goes up, with
// kubelet's events.
func TestRealLivenessProbeRestartsHangingContainer(t *testing.T) {
	h := newRealHarness(t)
	c := sh("app", "touch /tmp/healthy; exec sleep 3600")
	c.LivenessProbe = &api.Probe{
		ProbeHandler:  api.ProbeHandler{Exec: &api.ExecAction{Command: []string{"sh", "-c", "test -f /tmp/healthy || sleep 30"}}},
		PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1,
	}
	grace := int64(1)
	c.LivenessProbe.TerminationGracePeriodSeconds = &grace
	p := busyboxPod("hang", c)
	uid := string(p.UID)
	h.r.SyncPods([]*api.Pod{p})
	h.waitPhase(uid, api.PodRunning)
	waitUntilFor(t, 30*time.Second, "the container to be running", func() bool {
		out, code := h.exec("hang", "app", "test", "-f", "/tmp/healthy")
		return code == 0 && out == ""
	})

	// Hang: the check now sleeps past its 1 s timeout.
	if out, code := h.exec("hang", "app", "rm", "/tmp/healthy"); code != 0 {
		t.Fatalf("rm: %d %s", code, out)
	}
	u := h.waitFor(uid, "a restart", func(u PodUpdate) bool {
		cs := u.Status.ContainerStatuses[0]
		return cs.RestartCount >= 1 && cs.State.Running != nil
	})
	if !h.hasEvent(uid, "Unhealthy", `Liveness probe failed: command "sh -c test -f /tmp/healthy || sleep 30" timed out`) {
		t.Errorf("no timed-out liveness event: %v", probeEvents(h.eventsOf(uid)))
	}
	if !h.hasEvent(uid, "Killing", "Container app failed liveness probe, will be restarted") {
		t.Errorf("no Killing event: %v", probeEvents(h.eventsOf(uid)))
	}
	if last := u.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 143 && last.ExitCode != 137 {
		t.Errorf("last termination: %+v", last)
	}
}

func probeEvents(evs []api.Event) []string {
	var out []string
	for _, e := range evs {
		if e.Reason == "Unhealthy" || e.Reason == "Killing" || strings.HasPrefix(e.Message, "Liveness") {
			out = append(out, e.Reason+": "+e.Message)
		}
	}
	return out
}
