package image

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is: the pod status needs to tell a pull that
// may succeed later (ErrImagePull, shown as ErrImagePull and then
// ImagePullBackOff) from one that never will without a user's change
// (ErrImageNeverPull, ErrInvalidImageName).
var (
	// ErrImagePull means the image could not be fetched from its registry:
	// unreachable, unauthorised, unknown name or tag, a broken blob, or a
	// reference that names no registry at all (ErrLocalOnly).
	ErrImagePull = errors.New("image pull failed")
	// ErrImageNeverPull means the image is not on this node and the pull
	// policy Never forbids fetching it.
	ErrImageNeverPull = errors.New("image not present with pull policy Never")
	// ErrInvalidImageName means the reference cannot be parsed.
	ErrInvalidImageName = errors.New("invalid image name")
	// ErrLocalOnly means the reference names the pseudo-registry
	// "localhost" without a port: such images only exist once loaded into
	// the node (gossipod image load), there is no registry to ask. It comes
	// together with ErrImagePull.
	ErrLocalOnly = errors.New("reference names no registry")
	// ErrNotFound means no image by that reference or ID is in the store.
	ErrNotFound = errors.New("image not found")
	// ErrBadArchive means Load was given something that is neither an OCI
	// image layout tarball nor a docker archive, or one that is damaged.
	ErrBadArchive = errors.New("not a usable OCI layout or docker archive")
	// ErrUnsafeLayer means a layer tries to write outside its directory
	// ("..", writing through a symlink, a hard link out of the layer) or has
	// an entry the store refuses; nothing of the layer is kept.
	ErrUnsafeLayer = errors.New("unsafe layer")
	// ErrDigestMismatch means a layer's content does not hash to the diff ID
	// its image config promises; nothing of the layer is kept.
	ErrDigestMismatch = errors.New("layer content does not match its diff ID")
	// ErrNoCommand means neither the container nor the image says what to
	// run (no command and no ENTRYPOINT or CMD).
	ErrNoCommand = errors.New("no command specified")
)

// Kubernetes' reasons for a container waiting on its image, as the kubelet
// reports them in a container's state.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonImagePullBackOff  = "ImagePullBackOff" // set by the caller while it backs off after ErrImagePull
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	ReasonInvalidImageName  = "InvalidImageName"
)

// Reason maps an error from Pull to the waiting reason Kubernetes shows for
// it, or "" when err is nil or not an image error. Back-off is the caller's
// business: after repeated ErrImagePull it shows ReasonImagePullBackOff.
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrImageNeverPull):
		return ReasonErrImageNeverPull
	case errors.Is(err, ErrInvalidImageName):
		return ReasonInvalidImageName
	case errors.Is(err, ErrImagePull):
		return ReasonErrImagePull
	}
	return ""
}

// refError is an error about one reference: its message is written for the
// user, and errors.Is finds both its kind (a sentinel) and its cause.
type refError struct {
	kinds []error
	msg   string
	cause error
}

func (e *refError) Error() string {
	if e.cause == nil {
		return e.msg
	}
	return e.msg + ": " + e.cause.Error()
}

func (e *refError) Unwrap() []error {
	if e.cause == nil {
		return e.kinds
	}
	return append(append([]error(nil), e.kinds...), e.cause)
}

// pullError is `failed to pull image "ref": cause`, of kind ErrImagePull
// (and any extra kinds).
func pullError(ref string, cause error, kinds ...error) error {
	return &refError{
		kinds: append([]error{ErrImagePull}, kinds...),
		msg:   fmt.Sprintf("failed to pull image %q", ref),
		cause: cause,
	}
}

// neverPullError is Kubernetes' own wording for ErrImageNeverPull.
func neverPullError(ref string) error {
	return &refError{
		kinds: []error{ErrImageNeverPull},
		msg:   fmt.Sprintf("Container image %q is not present with pull policy of Never", ref),
	}
}

// invalidNameError is an InvalidImageName error.
func invalidNameError(ref string, cause error) error {
	return &refError{
		kinds: []error{ErrInvalidImageName},
		msg:   fmt.Sprintf("invalid image name %q", ref),
		cause: cause,
	}
}
