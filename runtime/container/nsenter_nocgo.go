//go:build linux && !cgo

package container

// cgoEnabled is false: without cgo there is no nsenter constructor, so no
// container can start; NewManager says so rather than failing later. The
// package still builds, so that code depending on it (and its tests, which
// skip) compiles with CGO_ENABLED=0.
const cgoEnabled = false
