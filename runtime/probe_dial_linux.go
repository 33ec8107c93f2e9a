package runtime

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// probeDialer is kubelet's probe.ProbeDialer: SO_LINGER on with 1 s, so
// that closing a probe's connection sends a RST after at most a second
// instead of leaving a socket in TIME_WAIT per probe.
func probeDialer() *net.Dialer {
	return &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 1})
		})
	}}
}
