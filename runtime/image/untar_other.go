//go:build !linux

package image

import (
	"archive/tar"
	"errors"
	"time"
)

// Layers are unpacked into overlayfs' format, which only Linux has; the
// package builds elsewhere so that its callers do, but cannot unpack.

const noFollow = 0

var errNotLinux = errors.New("unpacking image layers needs Linux")

func mkWhiteout(string) error                     { return errNotLinux }
func setOpaque(string) error                      { return errNotLinux }
func mknod(string, *tar.Header) error             { return errNotLinux }
func setXattr(string, string, string) error       { return errNotLinux }
func setTimes(string, time.Time, time.Time) error { return errNotLinux }
func syncFS(string) error                         { return errNotLinux }
