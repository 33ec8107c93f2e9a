// Package seccompprofile holds the seccomp profiles gossipod gives
// containers, as OCI runtime-spec profiles (specs.LinuxSeccomp):
// RuntimeDefault, containerd's default profile (itself Docker's), whose
// capability-dependent rules follow the container's capabilities as
// containerd's do, and Localhost profiles read from the node's profile
// directory, as kubelet and containerd read them. Config turns either into
// libcontainer's configuration, which is also how a profile is checked
// before a container is created with it.
//
// The filters are installed by libcontainer only when the binary is built
// with cgo and the `seccomp` build tag against libseccomp (make build does);
// Enabled says whether this binary was.
package seccompprofile
