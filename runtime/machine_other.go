//go:build !linux

package runtime

import "errors"

var errNotLinux = errors.New("gossipod agents run on Linux only")

func totalMemory() (int64, error) { return 0, errNotLinux }

func kernelVersion() (string, error) { return "", errNotLinux }
