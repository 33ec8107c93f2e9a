package network

import "errors"

// Sentinel errors, for callers to test with errors.Is. The errors returned wrap them
// with the details (pod, CIDR, path).
var (
	// ErrInvalidConfig is wrapped by Config.Validate's errors.
	ErrInvalidConfig = errors.New("invalid network config")
	// ErrNoPodCIDR means Setup was called before SetPodCIDR: the node has no address
	// range for pods yet, so the runtime should wait for the leader's allocation.
	ErrNoPodCIDR = errors.New("node has no pod CIDR yet")
	// ErrPodCIDRInUse means SetPodCIDR was asked to change the node's pod CIDR while
	// pods still hold addresses from the old one; they must be torn down first.
	ErrPodCIDRInUse = errors.New("pod CIDR cannot change while pods are attached")
	// ErrInvalidPod means a PodNetwork (id, netns path, host ports) is malformed or
	// names no network namespace; nothing was changed.
	ErrInvalidPod = errors.New("invalid pod network")
	// ErrInvalidRoute means a Route passed to SyncRoutes is malformed; nothing was
	// changed.
	ErrInvalidRoute = errors.New("invalid route")
	// ErrHostNetNS means the pod's namespace is the Manager's own: attaching or
	// detaching it would reconfigure the host's interfaces, so it is refused.
	ErrHostNetNS = errors.New("pod network namespace is the host's")
	// ErrLocked means another Manager (another agent) already uses Config.Root.
	ErrLocked = errors.New("network state directory is in use by another manager")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("network manager is closed")
	// ErrUnsupported is returned on systems other than Linux.
	ErrUnsupported = errors.New("pod networking needs Linux")
)
