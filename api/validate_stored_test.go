package api

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestIsValidUID(t *testing.T) {
	for _, tc := range []struct {
		uid string
		ok  bool
	}{
		{"3f1c9a52-8d0e-4b7a-9c6f-0a1b2c3d4e5f", true},
		{"uid-web", true},
		{"A1", true},
		{"", false},
		{"..", false},
		{".", false},
		{"../../etc", false},
		{"a/b", false},
		{"/", false},
		{"a b", false},
		{"a_b", false},
		{"a.b", false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
	} {
		if got := len(IsValidUID(tc.uid)) == 0; got != tc.ok {
			t.Errorf("IsValidUID(%q) = %v, want ok %v", tc.uid, IsValidUID(tc.uid), tc.ok)
		}
	}
}

// causeFields is the fields of a 422's causes.
func causeFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var st *Status
	if !errors.As(err, &st) || st.Details == nil {
		t.Fatalf("error %v (%T), want a *Status with details", err, err)
	}
	var out []string
	for _, c := range st.Details.Causes {
		out = append(out, c.Field)
	}
	return out
}

func TestValidatePodPathNames(t *testing.T) {
	valid := func() *Pod {
		return &Pod{
			ObjectMeta: ObjectMeta{Name: "web", Namespace: "default", UID: "u-1"},
			Spec: PodSpec{
				Volumes:        []Volume{{Name: "data"}},
				InitContainers: []Container{{Name: "init"}},
				Containers:     []Container{{Name: "app"}},
			},
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Pod)
		field string // "" for valid
	}{
		{"valid", func(*Pod) {}, ""},
		{"uid", func(p *Pod) { p.UID = "../../etc" }, "metadata.uid"},
		{"no uid", func(p *Pod) { p.UID = "" }, "metadata.uid"},
		{"name", func(p *Pod) { p.Name = "../x" }, "metadata.name"},
		{"namespace", func(p *Pod) { p.Namespace = "a/b" }, "metadata.namespace"},
		{"volume", func(p *Pod) { p.Spec.Volumes[0].Name = ".." }, "spec.volumes[0].name"},
		{"init container", func(p *Pod) { p.Spec.InitContainers[0].Name = "../i" }, "spec.initContainers[0].name"},
		{"container", func(p *Pod) { p.Spec.Containers[0].Name = "" }, "spec.containers[0].name"},
	} {
		p := valid()
		tc.edit(p)
		got := causeFields(t, ValidatePodPathNames(p))
		if tc.field == "" && got != nil || tc.field != "" && !slices.Contains(got, tc.field) {
			t.Errorf("%s: causes at %v, want %q", tc.name, got, tc.field)
		}
	}
}

func TestValidateNewObjectsRequireUID(t *testing.T) {
	p := validPod()
	p.UID = "../etc"
	if got := causeFields(t, ValidateNewPod(p)); !slices.Equal(got, []string{"metadata.uid"}) {
		t.Errorf("ValidateNewPod: causes at %v, want metadata.uid", got)
	}
	p.UID = "u-1"
	if err := ValidateNewPod(p); err != nil {
		t.Errorf("ValidateNewPod(valid): %v", err)
	}
	d := validDeployment()
	if got := causeFields(t, ValidateNewDeployment(d)); !slices.Equal(got, []string{"metadata.uid"}) {
		t.Errorf("ValidateNewDeployment without uid: causes at %v", got)
	}
	d.Namespace, d.UID = "default", "u-2"
	if err := ValidateNewDeployment(d); err != nil {
		t.Errorf("ValidateNewDeployment(valid): %v", err)
	}
}

func TestValidateNode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		node  Node
		isNew bool
		field string
	}{
		{"valid", Node{ObjectMeta: ObjectMeta{Name: "node-1", UID: "u", Labels: map[string]string{LabelHostname: "node-1"}}}, true, ""},
		{"existing without uid", Node{ObjectMeta: ObjectMeta{Name: "node-1"}}, false, ""},
		{"new without uid", Node{ObjectMeta: ObjectMeta{Name: "node-1"}}, true, "metadata.uid"},
		{"uid", Node{ObjectMeta: ObjectMeta{Name: "node-1", UID: "../x"}}, false, "metadata.uid"},
		{"name", Node{ObjectMeta: ObjectMeta{Name: "Node_1", UID: "u"}}, true, "metadata.name"},
		{"label", Node{ObjectMeta: ObjectMeta{Name: "n", UID: "u", Labels: map[string]string{"a": "-"}}}, true, "metadata.labels"},
	} {
		got := causeFields(t, ValidateNode(&tc.node, tc.isNew))
		if tc.field == "" && got != nil || tc.field != "" && !slices.Contains(got, tc.field) {
			t.Errorf("%s: causes at %v, want %q", tc.name, got, tc.field)
		}
	}
}
