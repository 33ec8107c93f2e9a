package discovery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"

	"k8s.io/apimachinery/pkg/version"

	"github.com/gossipod/gossipod/api"
)

// KubernetesVersion is the Kubernetes release whose API gossipod serves:
// the release of the k8s.io modules it is built from, which go.mod pins
// all to one release (k8s.io/api v0.37.2 is Kubernetes 1.37.2). A test
// checks the two agree, so bumping the modules without this fails.
const KubernetesVersion = "1.37.2"

// VersionInfo returns what GET /version reports for a gossipod binary of
// version binaryVersion (its main.version, `git describe` at build).
//
// gitVersion is the Kubernetes release gossipod's API follows, with
// gossipod and its own version as semver build metadata, as k3s reports
// "v1.30.2+k3s1": v1.37.2+gossipod.3993eef-dirty. Clients that compare
// versions (kubectl version's skew warning, client libraries choosing
// features) parse it as Kubernetes 1.37.2 and stay quiet with a 1.36 to
// 1.38 kubectl, while a person still reads that it is gossipod, and which
// build. gitCommit, gitTreeState and buildDate come from the VCS
// information Go stamps into the binary, when it has any.
func VersionInfo(binaryVersion string) version.Info {
	major, rest, _ := strings.Cut(KubernetesVersion, ".")
	minor, _, _ := strings.Cut(rest, ".")
	info := version.Info{
		Major:      major,
		Minor:      minor,
		GitVersion: "v" + KubernetesVersion + "+gossipod",
		GoVersion:  runtime.Version(),
		Compiler:   runtime.Compiler,
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
	if meta := buildMetadata(binaryVersion); meta != "" {
		info.GitVersion += "." + meta
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.GitCommit = s.Value
			case "vcs.time":
				info.BuildDate = s.Value
			case "vcs.modified":
				info.GitTreeState = "clean"
				if s.Value == "true" {
					info.GitTreeState = "dirty"
				}
			}
		}
	}
	return info
}

// buildMetadata turns a version string into semver build metadata: dot
// separated identifiers of [0-9A-Za-z-], other characters replaced by
// "-", empty identifiers dropped ("v0.3.0-5-gabc" stays as it is,
// "dev build" becomes "dev-build").
func buildMetadata(v string) string {
	var ids []string
	for id := range strings.SplitSeq(v, ".") {
		id = strings.Map(func(r rune) rune {
			if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				return r
			}
			return '-'
		}, id)
		if id != "" {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ".")
}

// VersionHandler serves GET /version: info as JSON, which kubectl version
// and every client's version check read. Kubernetes lets anyone read it,
// credentials or not, as gossipod does (apiserver/auth's open paths).
func VersionHandler(info version.Info) http.HandlerFunc {
	body, err := json.MarshalIndent(info, "", "  ")
	return func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			writeStatus(w, api.NewInternalError(fmt.Errorf("render /version: %w", err)))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}
