package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// BinaryEnv names an environment variable that, when set, points at an already built
// gossipod binary. CI can build once (for example with the race detector) and let every
// e2e package reuse it instead of compiling again. It must be statically linked, as
// `make build` links it (see buildFlags), or the agents cannot run pods.
const BinaryEnv = "GOSSIPOD_E2E_BINARY"

// build caches the one compilation of ./cmd/gossipod per test binary run: compiling
// takes seconds (and more once cgo is involved), and every test needs the same binary.
// It is the package's only mutable global.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BuildBinary returns the path of a gossipod binary built from this checkout's
// ./cmd/gossipod. The first call compiles it; later calls (from any test) reuse it, so
// a failing build is reported by every test that needs it rather than only the first.
// When $GOSSIPOD_E2E_BINARY is set, that binary is used instead.
func BuildBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			build.path, build.err = filepath.Abs(p)
			if build.err == nil {
				_, build.err = os.Stat(build.path)
			}
			if build.err != nil {
				build.err = fmt.Errorf("$%s: %w", BinaryEnv, build.err)
			}
			return
		}
		build.dir, build.path, build.err = compile()
	})
	if build.err != nil {
		t.Fatalf("build gossipod: %v", build.err)
	}
	return build.path
}

// buildFlags link the binary statically, as `make build` does: the agent runs its own
// executable as every pod's pause process, in an empty root filesystem without a
// dynamic loader, and refuses to start a runtime with a dynamically linked one. cgo
// stays on: libcontainer's nsenter needs it.
var buildFlags = []string{"-tags", "osusergo,netgo,seccomp", "-ldflags", `-linkmode external -extldflags "-static"`}

// compile runs `go build` of ./cmd/gossipod into a fresh temporary directory.
func compile() (dir, path string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("find the go tool: %w", err)
	}
	dir, err = os.MkdirTemp("", "gossipod-e2e-build-")
	if err != nil {
		return "", "", fmt.Errorf("make build dir: %w", err)
	}
	path = filepath.Join(dir, "gossipod")
	args := append(append([]string{"build"}, buildFlags...), "-o", path, "./cmd/gossipod")
	cmd := exec.Command(goTool, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build ./cmd/gossipod in %s: %w\n%s", root, err, out.String())
	}
	return dir, path, nil
}

// cleanupBuild removes the binary compiled by BuildBinary. TestMain calls it once all
// tests are done, because no single test owns the shared binary.
func cleanupBuild() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

// moduleRoot walks up from the working directory (the package directory under
// `go test`) to the directory holding go.mod, so the build works from any package.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find module root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// RequireRoot stops a test that needs network namespaces when the machine cannot
// provide them: it must run as root with `ip` and `nsenter` on the PATH. Normally such a
// test skips, so `go test ./...` works on a laptop; with CI=true it fails, because CI
// must never report green for tests that did not run.
func RequireRoot(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (euid 0)")
	}
	for _, tool := range []string{"ip", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("e2e test needs %v", missing)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: refusing to skip)")
	}
	t.Skip(msg)
}
