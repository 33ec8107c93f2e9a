package image

import (
	"slices"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is an image present on this node, ready to run: what the runtime
// needs to build a container's root filesystem (LayerDirs) and its process
// (Config, through ResolveCommand).
type Image struct {
	// Reference is the normalised reference the image was asked for
	// (docker.io/library/busybox:latest), or its ID when asked by ID.
	Reference string
	// ID is the digest of the image's config ("sha256:…"), which is what
	// Kubernetes reports as a container's imageID. It does not change when
	// the image is re-packed (archive, registry, other compression).
	ID string
	// RepoDigest is registry/repository@<manifest digest> when the image
	// was pulled, "" when it was loaded from an archive.
	RepoDigest string
	// Config is the part of the image config that says how to run it.
	Config ImageConfig
	// Created is when the image was built, from its config.
	Created time.Time
	// Size is the sum of the uncompressed sizes of its layers.
	Size int64

	layerDirs []string
}

// LayerDirs returns the unpacked layer directories, bottom layer first. They
// are overlayfs lower dirs as they are; overlayfs lists its lower dirs top
// first, so reverse them for lowerdir=. They are shared with other images
// and containers: mount them, never write to them.
func (i *Image) LayerDirs() []string {
	return slices.Clone(i.layerDirs)
}

// ImageConfig is the runtime part of an OCI image config: the defaults a
// container's process gets from its image.
type ImageConfig struct {
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	Env          []string          `json:"env,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	User         string            `json:"user,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"` // "80/tcp", sorted
	Labels       map[string]string `json:"labels,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
}

// configFrom copies the runtime part of a go-containerregistry config.
func configFrom(c v1.Config) ImageConfig {
	ic := ImageConfig{
		Entrypoint: slices.Clone(c.Entrypoint),
		Cmd:        slices.Clone(c.Cmd),
		Env:        slices.Clone(c.Env),
		WorkingDir: c.WorkingDir,
		User:       c.User,
		StopSignal: c.StopSignal,
	}
	for p := range c.ExposedPorts {
		ic.ExposedPorts = append(ic.ExposedPorts, p)
	}
	sort.Strings(ic.ExposedPorts)
	if len(c.Labels) > 0 {
		ic.Labels = make(map[string]string, len(c.Labels))
		for k, v := range c.Labels {
			ic.Labels[k] = v
		}
	}
	return ic
}

// ImageInfo is one line of `gossipod image ls`: one per reference, and one
// with an empty Reference per image that has none.
type ImageInfo struct {
	Reference string    `json:"reference"`
	ID        string    `json:"id"`
	Size      int64     `json:"size"`
	Created   time.Time `json:"created"`
}
