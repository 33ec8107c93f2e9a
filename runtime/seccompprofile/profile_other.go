//go:build !linux

package seccompprofile

import "github.com/opencontainers/runtime-spec/specs-go"

// Enabled is false: seccomp filters are Linux's.
const Enabled = false

// RuntimeDefault has no rules outside Linux, where no container runs.
func RuntimeDefault([]string) *specs.LinuxSeccomp { return &specs.LinuxSeccomp{} }

// check fails: no profile can be applied outside Linux.
func check(*specs.LinuxSeccomp) error { return ErrUnavailable }
