package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/internal/testimage"
)

// TestPullPolicies walks one store through the pull policies against a
// registry that counts what it serves.
func TestPullPolicies(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	ref := reg.push(t, "busybox:latest", busyboxImage(t))
	id, _ := busyboxImage(t).ConfigName()
	s := newStore(t)
	ctx := context.Background()

	steps := []struct {
		name          string
		policy        api.PullPolicy
		wantErr       error
		wantMsg       string
		wantManifests int64 // manifest requests the step makes
		wantBlobs     int64 // blob downloads the step makes
	}{
		{name: "Never, absent", policy: api.PullNever, wantErr: ErrImageNeverPull,
			wantMsg: fmt.Sprintf("Container image %q is not present with pull policy of Never", ref)},
		{name: "IfNotPresent, absent: pulls config and layer", policy: api.PullIfNotPresent, wantManifests: 1, wantBlobs: 2},
		{name: "IfNotPresent, present: asks nothing", policy: api.PullIfNotPresent},
		{name: "Never, present", policy: api.PullNever},
		{name: "Always, present and unchanged: one manifest request", policy: api.PullAlways, wantManifests: 1},
		{name: "default policy for :latest is Always", policy: "", wantManifests: 1},
	}
	for _, st := range steps {
		reg.reset()
		img, err := s.Pull(ctx, ref, st.policy, nil)
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) || err.Error() != st.wantMsg {
				t.Errorf("%s: err = %v; want %q", st.name, err, st.wantMsg)
			}
		} else if err != nil {
			t.Errorf("%s: %v", st.name, err)
		} else if img.ID != id.String() || img.Reference != ref || !strings.HasPrefix(img.RepoDigest, ref[:strings.LastIndex(ref, ":")]+"@sha256:") {
			t.Errorf("%s: image %+v", st.name, img)
		}
		if m, b := reg.manifests.Load(), reg.blobs.Load(); m != st.wantManifests || b != st.wantBlobs {
			t.Errorf("%s: %d manifest requests, %d blob downloads; want %d, %d", st.name, m, b, st.wantManifests, st.wantBlobs)
		}
	}
	if n := s.layers.unpacks.Load(); n != 1 {
		t.Errorf("%d layer unpacks, want 1", n)
	}
}

// TestPullAlwaysFollowsTheTag: when the tag moves, Always fetches only the
// new layer, and the old image stays listed without a name.
func TestPullAlwaysFollowsTheTag(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	base := layerOf(t, file("base", "shared"))
	v1img := imageOf(t, []string{"sh"}, base, layerOf(t, file("v", "1")))
	v2img := imageOf(t, []string{"sh"}, base, layerOf(t, file("v", "2")))
	ref := reg.push(t, "app:latest", v1img)
	s := newStore(t)
	first, err := s.Pull(context.Background(), ref, api.PullAlways, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.push(t, "app:latest", v2img)
	second, err := s.Pull(context.Background(), ref, api.PullAlways, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.ID == second.ID {
		t.Fatal("Always did not see the new image")
	}
	// config + new layer; the shared base is not fetched again.
	if b := reg.blobs.Load(); b != 2 {
		t.Errorf("%d blob downloads for the new image, want 2 (config, new layer)", b)
	}
	if dirs1, dirs2 := first.LayerDirs(), second.LayerDirs(); dirs1[0] != dirs2[0] || dirs1[1] == dirs2[1] {
		t.Errorf("layer dirs %v and %v; want the bottom one shared", dirs1, dirs2)
	}
	list := s.List()
	if len(list) != 2 || list[0].Reference != "" || list[0].ID != first.ID || list[1].ID != second.ID {
		t.Errorf("List = %+v; want the old image unnamed and the new one under %s", list, ref)
	}
}

func TestPullErrors(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	closed := closedPort(t)
	s := newStore(t)
	loadArchive(t, s) // localhost/busybox:latest is present

	tests := []struct {
		name       string
		ref        string
		policy     api.PullPolicy
		wantErr    []error // all must match errors.Is
		wantReason string
		wantText   []string
	}{{
		name: "unknown repository", ref: reg.host + "/nope:latest", policy: api.PullIfNotPresent,
		wantErr: []error{ErrImagePull}, wantReason: ReasonErrImagePull,
		wantText: []string{`failed to pull image "` + reg.host + `/nope:latest"`, "check the image name and tag"},
	}, {
		name: "unreachable registry", ref: closed + "/busybox:1", policy: api.PullAlways,
		wantErr: []error{ErrImagePull}, wantReason: ReasonErrImagePull,
		wantText: []string{`failed to pull image "` + closed + `/busybox:1"`, "connection refused", "check that the registry runs"},
	}, {
		name: "invalid name", ref: "Busy Box", policy: api.PullIfNotPresent,
		wantErr: []error{ErrInvalidImageName}, wantReason: ReasonInvalidImageName,
		wantText: []string{`invalid image name "Busy Box"`},
	}, {
		name: "localhost image that was never loaded", ref: "localhost/other:1", policy: api.PullIfNotPresent,
		wantErr: []error{ErrImagePull, ErrLocalOnly}, wantReason: ReasonErrImagePull,
		wantText: []string{`failed to pull image "localhost/other:1"`, "gossipod image load"},
	}, {
		name: "never, absent", ref: "busybox:1.36", policy: api.PullNever,
		wantErr: []error{ErrImageNeverPull}, wantReason: ReasonErrImageNeverPull,
		wantText: []string{`Container image "busybox:1.36" is not present with pull policy of Never`},
	}, {
		name: "unknown policy", ref: testimage.Reference, policy: "Sometimes",
		wantText: []string{`unknown pull policy "Sometimes"`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			img, err := s.Pull(ctx, tc.ref, tc.policy, nil)
			if err == nil {
				t.Fatalf("Pull = %+v, want an error", img)
			}
			t.Log(err)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err %v is not %v", err, want)
				}
			}
			if got := Reason(err); got != tc.wantReason {
				t.Errorf("Reason = %q, want %q", got, tc.wantReason)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err %q lacks %q", err, s)
				}
			}
		})
	}
}

// TestPullLocalOnly: a loaded localhost/… image is used under every policy,
// Always included, since no registry can be asked about it.
func TestPullLocalOnly(t *testing.T) {
	needRoot(t)
	s := newStore(t)
	loadArchive(t, s)
	for _, p := range []api.PullPolicy{api.PullAlways, api.PullIfNotPresent, api.PullNever, ""} {
		for _, ref := range []string{testimage.Reference, "localhost/busybox"} {
			if img, err := s.Pull(context.Background(), ref, p, nil); err != nil || img.Reference != testimage.Reference {
				t.Errorf("Pull(%q, %q) = %v, %v", ref, p, img, err)
			}
		}
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestLayerSharing: two images with a common layer unpack it once and
// point at the same directory.
func TestLayerSharing(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	base := layerOf(t, dir("lib/"), file("lib/libc", "common"))
	a := reg.push(t, "a:1", imageOf(t, []string{"a"}, base, layerOf(t, file("a", "a"))))
	b := reg.push(t, "b:1", imageOf(t, []string{"b"}, base, layerOf(t, file("b", "b"))))
	s := newStore(t)
	ia, err := s.Pull(context.Background(), a, api.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := s.Pull(context.Background(), b, api.PullIfNotPresent, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.layers.unpacks.Load(); n != 3 {
		t.Errorf("%d unpacks, want 3 (base, a, b)", n)
	}
	if ia.LayerDirs()[0] != ib.LayerDirs()[0] {
		t.Errorf("base layer dirs differ: %s, %s", ia.LayerDirs()[0], ib.LayerDirs()[0])
	}
}

// TestConcurrentPulls: many pulls of images sharing layers, at once, unpack
// every layer exactly once and all succeed.
func TestConcurrentPulls(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	base := layerOf(t, file("base", "shared"))
	refs := []string{
		reg.push(t, "x:1", imageOf(t, []string{"x"}, base, layerOf(t, file("x", "x")))),
		reg.push(t, "y:1", imageOf(t, []string{"y"}, base, layerOf(t, file("y", "y")))),
	}
	s := newStore(t)
	const perRef = 6
	var wg sync.WaitGroup
	errs := make(chan error, perRef*len(refs))
	for i := range perRef * len(refs) {
		wg.Go(func() {
			ref := refs[i%len(refs)]
			img, err := s.Pull(context.Background(), ref, api.PullAlways, nil)
			if err == nil && len(img.LayerDirs()) != 2 {
				err = fmt.Errorf("%s: %d layer dirs", ref, len(img.LayerDirs()))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.layers.unpacks.Load(); n != 3 {
		t.Errorf("%d unpacks, want 3", n)
	}
	if len(s.layers.locks) != 0 {
		t.Errorf("%d layer locks left", len(s.layers.locks))
	}
}

// TestPullCancelled: a cancelled context stops the pull with ErrImagePull
// and leaves nothing behind.
func TestPullCancelled(t *testing.T) {
	needRoot(t)
	reg := newRegistry(t)
	ref := reg.push(t, "busybox:latest", busyboxImage(t))
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Pull(ctx, ref, api.PullAlways, nil); !errors.Is(err, ErrImagePull) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want ErrImagePull and context.Canceled", err)
	}
	if _, ok := s.Get(ref); ok || len(s.List()) != 0 {
		t.Error("a cancelled pull left an image")
	}
}
