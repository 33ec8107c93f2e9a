package image

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is how Kubernetes and docker spell Docker Hub in a normalised
// reference; go-containerregistry spells it index.docker.io.
const dockerHub = "docker.io"

// localRegistry is the pseudo-registry of images that exist only where they
// were loaded: "localhost/busybox:latest" names no registry, as no registry
// listens on localhost without a port (docker and CRI-O treat it so too).
const localRegistry = "localhost"

// reference is a parsed image reference.
type reference struct {
	// canonical is the normalised name the store is keyed by, as
	// Kubernetes shows it: docker.io/library/busybox:latest.
	canonical string
	// remote is what go-containerregistry fetches; marked insecure (plain
	// HTTP) when its registry is in Config.InsecureRegistries.
	remote name.Reference
	// localOnly is true for localhost/… references, which no registry
	// serves.
	localOnly bool
}

// Normalize returns the canonical form of an image reference, as Kubernetes
// and docker write it: "busybox" becomes "docker.io/library/busybox:latest",
// "localhost/busybox" becomes "localhost/busybox:latest", a digest reference
// keeps its digest (and loses a tag written beside it). The store keys images
// by this form, so every spelling of a reference finds the same image.
func Normalize(ref string) (string, error) {
	r, err := parseReference(ref, nil)
	if err != nil {
		return "", err
	}
	return r.canonical, nil
}

// parseReference parses ref; registries listed in insecure (host[:port]) are
// reached over plain HTTP.
func parseReference(ref string, insecure []string) (reference, error) {
	// name.StrictValidation would reject "busybox" (implicit Docker Hub);
	// the default, weak validation accepts what docker accepts.
	r, err := name.ParseReference(ref)
	if err != nil {
		return reference{}, invalidNameError(ref, err)
	}
	reg := r.Context().RegistryStr()
	if registryListed(reg, insecure) {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return reference{}, invalidNameError(ref, err)
		}
	}
	canonical := reference{remote: r}.repository()
	switch t := r.(type) {
	case name.Digest:
		canonical += "@" + t.DigestStr()
	case name.Tag:
		canonical += ":" + t.TagStr()
	}
	return reference{canonical: canonical, remote: r, localOnly: reg == localRegistry}, nil
}

// repository is the normalised registry/repository part, without tag or
// digest: docker.io/library/busybox.
func (r reference) repository() string {
	host := r.remote.Context().RegistryStr()
	if host == name.DefaultRegistry {
		host = dockerHub
	}
	return host + "/" + r.remote.Context().RepositoryStr()
}

// registryListed reports whether reg (as go-containerregistry names it) is
// one of list, comparing host names case-insensitively and Docker Hub's
// spellings as one.
func registryListed(reg string, list []string) bool {
	for _, l := range list {
		l = strings.ToLower(l)
		if l == dockerHub {
			l = name.DefaultRegistry
		}
		if l == strings.ToLower(reg) {
			return true
		}
	}
	return false
}
