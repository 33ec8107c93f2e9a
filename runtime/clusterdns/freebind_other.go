//go:build !linux

package clusterdns

import (
	"errors"
	"syscall"
)

// freeBindControl fails: IP_FREEBIND is Linux's.
func freeBindControl(_, _ string, _ syscall.RawConn) error {
	return errors.New("clusterdns: FreeBind needs Linux")
}
