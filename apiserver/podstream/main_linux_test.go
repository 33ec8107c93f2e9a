//go:build linux

package podstream

import (
	"os"
	"testing"

	"github.com/gossipod/gossipod/runtime/container"
)

// TestMain doubles as libcontainer's re-exec: the real pods' containers
// are started by running this test binary as "<binary> init" inside their
// new namespaces.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		container.Init()
	}
	os.Exit(m.Run())
}
