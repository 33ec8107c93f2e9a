// Package testenv holds what tests of several packages need to run real
// pods: the root check that fails instead of skipping under CI, and the
// static pause binary libcontainer runs as a sandbox's first process.
// Missing is the rule behind the root check, for anything else a test
// needs from the machine.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// NeedRoot skips a test that needs root on Linux with cgo (namespaces,
// cgroups, mounts), except under CI=true, where a skip would hide that
// nothing was tested: there it fails.
func NeedRoot(tb testing.TB) {
	tb.Helper()
	var why string
	switch {
	case runtime.GOOS != "linux":
		why = "containers need Linux"
	case os.Geteuid() != 0:
		why = "needs root (namespaces, cgroups, mounts)"
	case os.Getenv("CGO_ENABLED") == "0":
		why = "built without cgo (libcontainer's nsenter)"
	default:
		return
	}
	Missing(tb, why)
}

// Missing stops a test that cannot get what it needs from this machine (a
// tool, a package, a privilege): it skips, so `go test ./...` works on a
// laptop, except under CI=true, where a skip would report green for a
// test that did not run, so it fails. why says what is missing.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true: %s", why)
	}
	tb.Skip(why)
}

// BuildPause builds the static stand-in for gossipod's pause
// (runtime/container/testdata/pause, which has the same two hooks) into
// dir and returns its path.
func BuildPause(dir string) (string, error) {
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	out := filepath.Join(dir, "pause")
	cmd := exec.Command("go", "build", "-tags", "osusergo,netgo,seccomp",
		"-ldflags", `-linkmode external -extldflags "-static"`, "-o", out, "./runtime/container/testdata/pause")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pause: %v\n%s", err, b)
	}
	return out, nil
}
