package api

import (
	"os"
	"path/filepath"
	"testing"
)

// decodeExample decodes, defaults and validates one file of examples/.
func decodeExample(t *testing.T, name string) *Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeManifests(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(objs) != 1 {
		t.Fatalf("%s: %d objects, want 1", name, len(objs))
	}
	p, ok := objs[0].(*Pod)
	if !ok {
		t.Fatalf("%s: %T, want *Pod", name, objs[0])
	}
	SetPodDefaults(p)
	if err := ValidatePod(p); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// TestExamplePod is the seed's pod: main, a and b, 1Gi each, one emptyDir
// shared by all three; placement needs 3Gi on one node.
func TestExamplePod(t *testing.T) {
	p := decodeExample(t, "pod.yaml")
	var names []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
		if c.Image != "localhost/busybox:latest" {
			t.Errorf("container %s image = %q", c.Name, c.Image)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != p.Spec.Volumes[0].Name {
			t.Errorf("container %s does not mount the shared volume: %+v", c.Name, c.VolumeMounts)
		}
		if m := ResourcesOf(c.Resources.Requests).Memory; m != 1<<30 {
			t.Errorf("container %s requests %d bytes, want 1Gi", c.Name, m)
		}
	}
	if got := names; len(got) != 3 || got[0] != "main" || got[1] != "a" || got[2] != "b" {
		t.Errorf("containers = %v, want [main a b]", got)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].EmptyDir == nil {
		t.Errorf("volumes = %+v, want one emptyDir", p.Spec.Volumes)
	}
	if r := PodRequests(p); r.Memory != 3<<30 {
		t.Errorf("PodRequests memory = %d, want 3Gi", r.Memory)
	}
}

// TestExampleWARPod is the seed's WAR example: an init container fills an
// emptyDir that the app container serves with busybox httpd on 8080.
func TestExampleWARPod(t *testing.T) {
	p := decodeExample(t, "war-pod.yaml")
	if len(p.Spec.InitContainers) != 1 || len(p.Spec.Containers) != 1 || len(p.Spec.Volumes) != 1 {
		t.Fatalf("want 1 init container, 1 container, 1 volume: %+v", p.Spec)
	}
	init, app, vol := p.Spec.InitContainers[0], p.Spec.Containers[0], p.Spec.Volumes[0]
	if vol.EmptyDir == nil {
		t.Errorf("volume %s is not an emptyDir", vol.Name)
	}
	if len(init.VolumeMounts) != 1 || init.VolumeMounts[0].Name != vol.Name ||
		len(app.VolumeMounts) != 1 || app.VolumeMounts[0].Name != vol.Name {
		t.Errorf("both containers must mount %s: init %+v, app %+v", vol.Name, init.VolumeMounts, app.VolumeMounts)
	}
	if len(app.Command) < 2 || app.Command[0] != "busybox" || app.Command[1] != "httpd" {
		t.Errorf("app command = %v, want busybox httpd ...", app.Command)
	}
	if len(app.Ports) != 1 || app.Ports[0].ContainerPort != 8080 || app.Ports[0].Protocol != ProtocolTCP {
		t.Errorf("app ports = %+v, want 8080/TCP", app.Ports)
	}
}

// TestExampleProbesPod has the three probes, one handler each, defaulted
// as kube-apiserver defaults them.
func TestExampleProbesPod(t *testing.T) {
	p := decodeExample(t, "probes-pod.yaml")
	c := p.Spec.Containers[0]
	if c.StartupProbe.TCPSocket == nil || c.ReadinessProbe.HTTPGet.Scheme != URISchemeHTTP ||
		c.LivenessProbe.FailureThreshold != 3 || c.ReadinessProbe.TimeoutSeconds != 1 {
		t.Errorf("probes: %+v %+v %+v", c.StartupProbe, c.ReadinessProbe, c.LivenessProbe)
	}
}
