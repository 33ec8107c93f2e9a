package discovery

import (
	"os"
	"regexp"
	"runtime"
	"testing"

	utilversion "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// TestVersionInfo checks /version as clients read it: client-go decodes
// it, and the gitVersion parses as the semantic version of the Kubernetes
// release gossipod follows, which is what kubectl's skew warning compares.
func TestVersionInfo(t *testing.T) {
	srv := newServer(t, Resources())
	info, err := discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL}).ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if info.GitVersion != "v"+KubernetesVersion+"+gossipod.3993eef-dirty" || info.Major != "1" || info.Minor != "37" ||
		info.GoVersion != runtime.Version() || info.Platform != runtime.GOOS+"/"+runtime.GOARCH || info.Compiler != runtime.Compiler {
		t.Errorf("version %+v", info)
	}
	v, err := utilversion.ParseSemantic(info.GitVersion)
	if err != nil {
		t.Fatalf("gitVersion %q: %v", info.GitVersion, err)
	}
	if v.Major() != 1 || v.Minor() != 37 || v.Patch() != 2 || v.PreRelease() != "" {
		t.Errorf("gitVersion %q reads as %d.%d.%d-%s, want 1.37.2 and no pre-release", info.GitVersion, v.Major(), v.Minor(), v.Patch(), v.PreRelease())
	}
}

func TestBuildMetadata(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		"dev":             "dev",
		"3993eef":         "3993eef",
		"3993eef-dirty":   "3993eef-dirty",
		"v0.3.0-5-gabc12": "v0.3.0-5-gabc12",
		"dev build/2":     "dev-build-2",
		"..a..b.":         "a.b",
		"ü+x":             "--x",
	} {
		got := buildMetadata(in)
		if got != want {
			t.Errorf("buildMetadata(%q) = %q, want %q", in, got, want)
		}
		if got != "" {
			if _, err := utilversion.ParseSemantic("v1.37.2+gossipod." + got); err != nil {
				t.Errorf("v1.37.2+gossipod.%s: %v", got, err)
			}
		}
	}
	if got := VersionInfo("").GitVersion; got != "v"+KubernetesVersion+"+gossipod" {
		t.Errorf("without a binary version: %q", got)
	}
}

// TestKubernetesVersionMatchesGoMod: /version must claim the release whose
// API types gossipod is built from.
func TestKubernetesVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/api v0\.(\d+\.\d+)\b`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("no k8s.io/api requirement in go.mod")
	}
	if got := "1." + string(m[1]); got != KubernetesVersion {
		t.Errorf("go.mod has k8s.io/api of Kubernetes %s, KubernetesVersion says %s", got, KubernetesVersion)
	}
}
