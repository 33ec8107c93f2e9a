//go:build linux

package runtime

import (
	"os"
	"testing"

	"github.com/gossipod/gossipod/runtime/container"
)

// TestMain doubles as libcontainer's re-exec: the integration tests' real
// containers are started by running this test binary as "<binary> init"
// inside their new namespaces.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		container.Init()
	}
	code := m.Run()
	fixtures.cleanup()
	os.Exit(code)
}
