package clusterdns

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// freeBindControl sets IP_FREEBIND on a socket before it binds, so that it
// may bind an address the node does not have yet.
func freeBindControl(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
	}); err != nil {
		return err
	}
	return serr
}
