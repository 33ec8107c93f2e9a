package runtime

import (
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testimage"
	"github.com/gossipod/gossipod/internal/testregistry"
)

// Real pods pull the test image from a loopback registry that wants a
// login: the one whose imagePullSecrets name a dockerconfigjson Secret
// with it runs; the one without waits with ErrImagePull and the
// registry's 401 in the message, then ImagePullBackOff.
func TestRealPullWithImagePullSecrets(t *testing.T) {
	h, objs := newRealHarnessWithObjects(t)
	img, err := testimage.Image()
	if err != nil {
		t.Fatal(err) // newRealHarness built the same image already
	}
	reg := testregistry.Start(t, "alice", "s3cret")
	ref := reg.Push(t, "private/busybox:1", img)
	objs.mu.Lock()
	objs.secrets["default/regcred"] = &api.Secret{ObjectMeta: api.ObjectMeta{Name: "regcred", Namespace: "default"},
		Type: api.SecretTypeDockerConfigJSON, Data: map[string][]byte{api.DockerConfigJSONKey: reg.DockerConfigJSON("alice", "s3cret")}}
	objs.mu.Unlock()

	withSecret := busyboxPod("private", api.Container{Name: "app", Command: []string{"sleep", "3600"}})
	withSecret.Spec.Containers[0].Image = ref
	withSecret.Spec.ImagePullSecrets = []api.LocalObjectReference{{Name: "regcred"}}
	without := busyboxPod("anonymous", api.Container{Name: "app", Command: []string{"sleep", "3600"}})
	without.Spec.Containers[0].Image = ref
	h.r.SyncPods([]*api.Pod{withSecret, without})

	h.waitPhase(string(withSecret.UID), api.PodRunning)
	if out, code := h.exec("private", "app", "echo", "pulled"); code != 0 || strings.TrimSpace(out) != "pulled" {
		t.Errorf("exec in the pulled image: %q, exit %d", out, code)
	}
	u := h.waitSeen(string(without.UID), "ErrImagePull", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ErrImagePull"
	})
	msg := u.Status.ContainerStatuses[0].State.Waiting.Message
	for _, want := range []string{`failed to pull image "` + ref + `"`, "401 Unauthorized", "UNAUTHORIZED", "imagePullSecrets"} {
		if !strings.Contains(msg, want) {
			t.Errorf("waiting message lacks %q: %s", want, msg)
		}
	}
	h.waitFor(string(without.UID), "ImagePullBackOff", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonImagePullBackOff
	})
	if reg.Refused.Load() == 0 {
		t.Error("the registry refused nothing")
	}
}
