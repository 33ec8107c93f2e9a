//go:build !linux

package runtime

func mountTmpfs(string, int64) error       { return errNotLinux }
func isMountPoint(string) (bool, error)    { return false, errNotLinux }
func unmountUnder(string) error            { return nil }
func mountsUnder(string) ([]string, error) { return nil, nil }
