// Package image is a node's image store: it pulls images from registries,
// imports OCI and docker archives, and unpacks every layer once per node into
// a directory that overlayfs can stack, so that all images and containers
// using a layer share one copy of it.
//
// On disk, under Config.Root:
//
//	index.json               references → image IDs, image configs, layer sizes
//	layers/sha256/<hex>/     one unpacked layer, named by its diff ID
//	tmp/                     unpacks and archive spools in progress (cleared by New)
//
// An image is identified by its ID, the digest of its config, not by the
// digest of a manifest: the same image reaches a node with different
// manifests (a registry's, or the one a docker archive is re-read into), and
// keying by config keeps those one image. A layer is identified by its diff
// ID (the digest of its uncompressed tar), which is also how a config names
// it, so layer sharing does not depend on compression either.
//
// Layer directories are overlayfs lower dirs as they are: OCI whiteouts are
// unpacked into overlayfs' own form (a 0/0 character device for a deleted
// file, the trusted.overlay.opaque xattr for an opaque directory), so the
// runtime mounts lowerdir=<top>:…:<bottom> with nothing to translate. Their
// paths contain no ':' or ',' for the same reason. Unpacking needs root
// (device nodes, chown, trusted.* xattrs).
package image
