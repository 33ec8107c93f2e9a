package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/internal/testimage"
	"github.com/gossipod/gossipod/internal/testregistry"
)

// TestImagePullSecrets shows issue 13's "a pod pulls a private image with
// imagePullSecrets; without them it gets ErrImagePull with the registry's
// 401": a registry that wants a login runs on the hosts' bridge (named
// with --insecure-registry, as a plain-HTTP registry must be); a
// kubernetes.io/dockerconfigjson Secret and a ServiceAccount listing it
// are created through the API. A pod running as that ServiceAccount gets
// its pull secrets at admission and runs the private image; a pod running
// as "default" waits with ErrImagePull and the registry's 401.
func TestImagePullSecrets(t *testing.T) {
	var registryHost string // set before the agent starts
	c := NewCluster(t, Options{Hosts: 1, NoAgents: true, AgentArgs: func(c *Cluster, i int) []string {
		return append(BootstrapExpect(1)(c, i), "--insecure-registry", registryHost)
	}})
	img, err := testimage.Image()
	if errors.Is(err, testimage.ErrNoBusybox) && os.Getenv("CI") != "true" {
		t.Skipf("test image: %v", err)
	}
	if err != nil {
		t.Fatalf("test image: %v", err)
	}
	reg := testregistry.StartAt(t, c.net.gateway()+":0", "alice", "s3cret")
	registryHost = reg.Host
	ref := reg.Push(t, "private/busybox:1", img)
	c.Start(0)
	c.CleanupPods()
	waitFormed(t, c, 1, 0)

	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "regcred"},
		"type": "kubernetes.io/dockerconfigjson", "data": map[string][]byte{".dockerconfigjson": reg.DockerConfigJSON("alice", "s3cret")}}
	c.post("/api/v1/namespaces/default/secrets", secret)
	c.post("/api/v1/namespaces/default/serviceaccounts", map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata": map[string]any{"name": "puller"}, "imagePullSecrets": []map[string]string{{"name": "regcred"}}})

	const pod = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  serviceAccountName: %s
  containers:
  - name: main
    image: %s
    command: ["sleep", "3600"]
`
	c.MustApply(0, fmt.Sprintf(pod, "private", "puller", ref))
	c.MustApply(0, fmt.Sprintf(pod, "anonymous", "default", ref))

	c.WaitPod(0, "private", scheduleTimeout+runTimeout, Pod.Running)
	var stored struct {
		Spec struct {
			ImagePullSecrets []struct{ Name string } `json:"imagePullSecrets"`
		} `json:"spec"`
	}
	if err := c.decodeJSON(0, &stored, "get", "pods", "private", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if ps := stored.Spec.ImagePullSecrets; len(ps) != 1 || ps[0].Name != "regcred" {
		t.Errorf("pod private's imagePullSecrets %+v, want its ServiceAccount's [regcred]", ps)
	}

	c.WaitPod(0, "anonymous", scheduleTimeout+runTimeout, func(p Pod) error {
		s, ok := p.Container("main")
		if !ok || s.State.Waiting == nil || s.State.Waiting.Reason != "ErrImagePull" {
			return fmt.Errorf("container main is not waiting with ErrImagePull: %+v", s.State)
		}
		for _, want := range []string{"401 Unauthorized", "UNAUTHORIZED", "imagePullSecrets", reg.Host} {
			if !strings.Contains(s.State.Waiting.Message, want) {
				return fmt.Errorf("ErrImagePull message lacks %q: %s", want, s.State.Waiting.Message)
			}
		}
		return nil
	})
	if reg.Refused.Load() == 0 {
		t.Error("the registry refused nothing")
	}
	if log := c.Log(0); strings.Contains(log, "s3cret") {
		t.Error("the agent's log holds the registry password")
	}
}

// post creates an object through host 0's API as the admin, failing the
// test unless it is created.
func (c *Cluster) post(path string, obj any) {
	c.t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.client.Post(c.APIAddr(0)+path, "application/json", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("POST %s: %s\n%s", path, resp.Status, body)
	}
}
