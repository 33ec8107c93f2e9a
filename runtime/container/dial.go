//go:build linux

package container

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// Dial connects to address from inside the pod's network namespace, as a
// process of the pod would (kubelet's port-forward does the same through
// its runtime), so a server bound to the pod's 127.0.0.1 is reachable and
// no pod IP or route is needed.
//
// The socket is made on a goroutine locked to an OS thread that has joined
// the pod's namespace; a socket keeps the namespace it was created in, so
// the connection is used from any goroutine afterwards. That thread is
// never unlocked: when the goroutine ends, Go discards the thread, so no
// other goroutine ever runs in the pod's namespace.
func (s *Sandbox) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if !s.Running() {
		return nil, wrapSandbox(s.id, fmt.Errorf("dial %s: %w", address, ErrNotRunning))
	}
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		conn, err := dialInNetNS(ctx, s.NetNSPath(), network, address)
		done <- result{conn, err}
	}()
	r := <-done // DialContext honours ctx, so this ends with it
	if r.err != nil {
		return nil, wrapSandbox(s.id, r.err)
	}
	return r.conn, nil
}

// dialInNetNS joins the network namespace at path on the calling thread,
// which must be locked and never unlocked, and dials there.
func dialInNetNS(ctx context.Context, path, network, address string) (net.Conn, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the pod's network namespace: %w", err)
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter the pod's network namespace %s: %w", path, os.NewSyscallError("setns", err))
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}
