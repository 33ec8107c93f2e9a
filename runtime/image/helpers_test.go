package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gossipod/gossipod/internal/testimage"
)

// skipOrFail skips a test whose environment is missing something; under
// CI=true a skip would hide a broken pipeline, so it fails instead.
func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: refusing to skip)")
	}
	t.Skip(why)
}

// needRoot: unpacking creates device nodes, chowns and sets trusted.*
// xattrs.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root (layers hold device nodes, owners and trusted.* xattrs)")
	}
}

var (
	testImgOnce sync.Once
	testImg     v1.Image
	testImgErr  error
	archiveOnce sync.Once
	archivePath string
	archiveErr  error
)

// busyboxImage is the test image (built once per test binary).
func busyboxImage(t testing.TB) v1.Image {
	t.Helper()
	testImgOnce.Do(func() { testImg, testImgErr = testimage.Image() })
	if errors.Is(testImgErr, testimage.ErrNoBusybox) {
		skipOrFail(t, testImgErr.Error())
	}
	if testImgErr != nil {
		t.Fatal(testImgErr)
	}
	return testImg
}

// busyboxArchive is the test image as a docker archive (written once per
// test binary, under a directory TestMain removes).
func busyboxArchive(t testing.TB) string {
	t.Helper()
	archiveOnce.Do(func() {
		archivePath = filepath.Join(sharedDir, "busybox.tar")
		archiveErr = testimage.Build(archivePath)
	})
	if errors.Is(archiveErr, testimage.ErrNoBusybox) {
		skipOrFail(t, archiveErr.Error())
	}
	if archiveErr != nil {
		t.Fatal(archiveErr)
	}
	return archivePath
}

var sharedDir string

func TestMain(m *testing.M) {
	var err error
	if sharedDir, err = os.MkdirTemp("", "image-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(sharedDir)
	os.Exit(code)
}

// quietLogger drops the store's logging, which would drown test output.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newStore is a store in a fresh directory.
func newStore(t testing.TB, insecure ...string) *Store {
	t.Helper()
	return openStore(t, t.TempDir(), insecure...)
}

func openStore(t testing.TB, root string, insecure ...string) *Store {
	t.Helper()
	// No node credentials: the host's docker config must not change what
	// a test sees.
	s, err := New(Config{Root: root, InsecureRegistries: insecure, Logger: quietLogger(), NodeKeychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadArchive loads the busybox archive into s.
func loadArchive(t testing.TB, s *Store) []string {
	t.Helper()
	f, err := os.Open(busyboxArchive(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	refs, err := s.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// entry is one tar entry of a hand-made layer.
type entry struct {
	name     string
	typ      byte
	body     string
	link     string
	mode     int64
	uid, gid int
	mtime    time.Time
	pax      map[string]string
}

func file(name, body string) entry { return entry{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) entry        { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, target string) entry {
	return entry{name: name, typ: tar.TypeSymlink, link: target}
}
func hardlink(name, target string) entry { return entry{name: name, typ: tar.TypeLink, link: target} }

// tarOf writes entries as a tar stream, in order.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, ModTime: e.mtime, PAXRecords: e.pax, Format: tar.FormatPAX,
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1_600_000_000, 0)
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerOf is a go-containerregistry layer of the entries.
func layerOf(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	b := tarOf(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf is a linux image of the layers, bottom first, running cmd.
func imageOf(t testing.TB, cmd []string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Cmd: cmd},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		t.Fatal(err)
	}
	return img
}

// testRegistry is go-containerregistry's in-process registry on loopback,
// counting the requests it serves.
type testRegistry struct {
	host      string // 127.0.0.1:PORT
	manifests atomic.Int64
	blobs     atomic.Int64 // blob GETs (downloads), not HEADs
	requests  atomic.Int64
}

func newRegistry(t testing.TB) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	h := registry.New(registry.Logger(nilLogger()))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.requests.Add(1)
		switch {
		case strings.Contains(r.URL.Path, "/manifests/"):
			tr.manifests.Add(1)
		case strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet:
			tr.blobs.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// push puts img at host/repo:tag and returns the reference; the counters
// are reset afterwards.
func (tr *testRegistry) push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref := tr.host + "/" + repoTag
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	tr.reset()
	return ref
}

func (tr *testRegistry) reset() {
	tr.manifests.Store(0)
	tr.blobs.Store(0)
	tr.requests.Store(0)
}

// nilLogger silences the in-process registry's request log.
func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// rc is b as a stream a layer opener returns.
func rc(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func mustHash(t testing.TB, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
