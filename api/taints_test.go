package api

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// TestToleratesTaint is Kubernetes' TestTolerationToleratesTaint table
// (k8s.io/api/core/v1), the comparison operators being off.
func TestToleratesTaint(t *testing.T) {
	disk := Taint{Key: TaintNodeDiskPressure, Effect: TaintEffectNoSchedule}
	foo := Taint{Key: "foo", Value: "bar", Effect: TaintEffectNoSchedule}
	tests := []struct {
		name       string
		toleration Toleration
		taint      Taint
		want       bool
	}{
		{"empty effect and Exists on the key tolerates every effect",
			Toleration{Key: "foo", Operator: TolerationOpExists}, foo, true},
		{"same effect, Exists", Toleration{Key: "foo", Operator: TolerationOpExists, Effect: TaintEffectNoSchedule}, foo, true},
		{"other effect", Toleration{Key: "foo", Operator: TolerationOpExists, Effect: TaintEffectNoExecute}, foo, false},
		{"other key", Toleration{Key: "baz", Operator: TolerationOpExists}, foo, false},
		{"Equal, same value", Toleration{Key: "foo", Operator: TolerationOpEqual, Value: "bar"}, foo, true},
		{"Equal, other value", Toleration{Key: "foo", Operator: TolerationOpEqual, Value: "baz"}, foo, false},
		{"no operator means Equal", Toleration{Key: "foo", Value: "bar"}, foo, true},
		{"no operator, other value", Toleration{Key: "foo", Value: "qux"}, foo, false},
		{"empty key with Exists tolerates every taint", Toleration{Operator: TolerationOpExists}, disk, true},
		{"empty key, Exists, other effect", Toleration{Operator: TolerationOpExists, Effect: TaintEffectNoExecute}, disk, false},
		{"Equal with no value matches a taint without value", Toleration{Key: TaintNodeDiskPressure, Operator: TolerationOpEqual}, disk, true},
		{"Lt is off", Toleration{Key: "foo", Operator: "Lt", Value: "1"}, foo, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ToleratesTaint(&tt.toleration, &tt.taint); got != tt.want {
				t.Errorf("ToleratesTaint(%+v, %+v) = %v, want %v", tt.toleration, tt.taint, got, tt.want)
			}
		})
	}
}

func TestFindUntoleratedTaint(t *testing.T) {
	taints := []Taint{
		{Key: "soft", Effect: TaintEffectPreferNoSchedule},
		{Key: TaintNodeMemoryPressure, Effect: TaintEffectNoSchedule},
		{Key: TaintNodeDiskPressure, Effect: TaintEffectNoSchedule},
	}
	tests := []struct {
		name        string
		tolerations []Toleration
		want        string // key of the untolerated taint, "" for none
	}{
		{"none tolerated: the first NoSchedule one", nil, TaintNodeMemoryPressure},
		{"memory tolerated", []Toleration{{Key: TaintNodeMemoryPressure, Operator: TolerationOpExists}}, TaintNodeDiskPressure},
		{"both tolerated", []Toleration{
			{Key: TaintNodeMemoryPressure, Operator: TolerationOpExists},
			{Key: TaintNodeDiskPressure, Operator: TolerationOpExists, Effect: TaintEffectNoSchedule}}, ""},
		{"everything tolerated", []Toleration{{Operator: TolerationOpExists}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := FindUntoleratedTaint(taints, tt.tolerations, TaintEffectNoSchedule, TaintEffectNoExecute)
			if found != (tt.want != "") || got.Key != tt.want {
				t.Errorf("FindUntoleratedTaint = %q, %v; want %q", got.Key, found, tt.want)
			}
		})
	}
}

func TestValidatePodTolerationsAndEphemeralStorage(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Pod)
		want   []string
	}{
		{"ephemeral-storage request and limit", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests[ResourceEphemeralStorage] = resource.MustParse("1Gi")
			p.Spec.Containers[0].Resources.Limits[ResourceEphemeralStorage] = resource.MustParse("2Gi")
		}, nil},
		{"ephemeral-storage limit below request", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests[ResourceEphemeralStorage] = resource.MustParse("1Gi")
			p.Spec.Containers[0].Resources.Limits[ResourceEphemeralStorage] = resource.MustParse("1Mi")
		}, []string{`spec.containers[0].resources.limits.ephemeral-storage: Invalid value: "1Mi": must be greater than or equal to ephemeral-storage request`}},
		{"tolerations", func(p *Pod) {
			p.Spec.Tolerations = []Toleration{
				{Key: TaintNodeDiskPressure, Operator: TolerationOpExists, Effect: TaintEffectNoSchedule},
				{Operator: TolerationOpExists},
				{Key: "team", Value: "a"},
			}
		}, nil},
		{"empty key needs Exists", func(p *Pod) { p.Spec.Tolerations = []Toleration{{Value: "a"}} }, []string{
			"spec.tolerations[0].operator: Invalid value: \"\": operator must be Exists when `key` is empty, which means \"match all values and all keys\""}},
		{"Exists with a value", func(p *Pod) {
			p.Spec.Tolerations = []Toleration{{Key: "a", Operator: TolerationOpExists, Value: "b"}}
		}, []string{"spec.tolerations[0].operator: Invalid value: \"b\": value must be empty when `operator` is 'Exists'"}},
		{"unknown operator and effect", func(p *Pod) {
			p.Spec.Tolerations = []Toleration{{Key: "a", Operator: "Lt", Effect: "Never"}}
		}, []string{
			`spec.tolerations[0].operator: Unsupported value: "Lt": supported values: "Equal", "Exists"`,
			`spec.tolerations[0].effect: Unsupported value: "Never": supported values: "NoExecute", "NoSchedule", "PreferNoSchedule"`}},
		{"tolerationSeconds without NoExecute", func(p *Pod) {
			s := int64(5)
			p.Spec.Tolerations = []Toleration{{Key: "a", Operator: TolerationOpExists, TolerationSeconds: &s}}
		}, []string{"spec.tolerations[0].effect: Invalid value: \"\": effect must be 'NoExecute' when `tolerationSeconds` is set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			tt.mutate(p)
			got := causeStrings(t, ValidatePod(p))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("causes:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

func TestPodRequestsEphemeralStorage(t *testing.T) {
	p := validPod()
	p.Spec.Containers[0].Resources.Requests[ResourceEphemeralStorage] = resource.MustParse("1Gi")
	p.Spec.Containers[1].Resources.Limits = ResourceList{ResourceEphemeralStorage: resource.MustParse("512Mi")}
	p.Spec.InitContainers[0].Resources.Requests = ResourceList{ResourceEphemeralStorage: resource.MustParse("2Gi")}
	if got, want := PodRequests(p).EphemeralStorage, int64(2<<30); got != want {
		t.Errorf("ephemeral-storage request = %d, want %d (the init container's, larger than 1Gi+512Mi)", got, want)
	}
	p.Spec.InitContainers[0].Resources.Requests = nil
	if got, want := PodRequests(p).EphemeralStorage, int64(1<<30+512<<20); got != want {
		t.Errorf("ephemeral-storage request = %d, want %d (a limit stands in for a missing request)", got, want)
	}
}
