package runtime

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// collapseHead drops about the first cut bytes of f in place
// (FALLOC_FL_COLLAPSE_RANGE, whole filesystem blocks only), atomically
// with respect to the container's appends. It reports false when the
// filesystem cannot do it, for the caller to fall back to copytruncate.
func collapseHead(f *os.File, cut int64) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false, nil
	}
	bs := st.Bsize
	if bs <= 0 {
		return false, nil
	}
	n := cut / bs * bs
	if n == 0 {
		return false, nil
	}
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_COLLAPSE_RANGE, 0, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return false, nil
	}
	return err == nil, err
}
