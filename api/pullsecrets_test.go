package api

import (
	"slices"
	"strings"
	"testing"
)

// TestImagePullSecretsAccepted: spec.imagePullSecrets of a pod and of a
// pod template, and a ServiceAccount's imagePullSecrets, decode and
// validate. kube-apiserver checks only that nothing but the name is set
// (validateImagePullSecrets): an empty or odd name is accepted (it only
// warns), and kubelet skips an empty one and reports a missing one when it
// pulls, so such manifests (Helm charts write `- name: ""`) are accepted
// here too.
func TestImagePullSecretsAccepted(t *testing.T) {
	pullSecrets := "  imagePullSecrets:\n  - name: regcred\n  - name: \"\"\n  - name: Not_A_Name\n"
	want := []string{"regcred", "", "Not_A_Name"}
	tests := []struct {
		name     string
		manifest string
		secrets  func(Object) []LocalObjectReference
	}{
		{"pod", podYAML("web") + pullSecrets, func(o Object) []LocalObjectReference { return o.(*Pod).Spec.ImagePullSecrets }},
		{"deployment template", deploymentYAML("web") + indentBy("    ", pullSecrets),
			func(o Object) []LocalObjectReference { return o.(*Deployment).Spec.Template.Spec.ImagePullSecrets }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := DecodeManifests([]byte(tt.manifest))
			if err != nil {
				t.Fatalf("DecodeManifests: %v", err)
			}
			var got []string
			for _, r := range tt.secrets(objs[0]) {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("imagePullSecrets %q, want %q", got, want)
			}
		})
	}

	var sa ServiceAccount
	if err := DecodeInto([]byte(`{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"builder","namespace":"ci"},`+
		`"imagePullSecrets":[{"name":"regcred"}]}`), &sa); err != nil {
		t.Fatalf("ServiceAccount with imagePullSecrets: %v", err)
	}
	if err := ValidateServiceAccount(&sa); err != nil || len(sa.ImagePullSecrets) != 1 || sa.ImagePullSecrets[0].Name != "regcred" {
		t.Errorf("ServiceAccount: %v, %+v", err, sa.ImagePullSecrets)
	}
	if err := DecodeInto([]byte(`{"metadata":{"name":"builder"},"secrets":[{"name":"token"}]}`), &ServiceAccount{}); err == nil {
		t.Error("ServiceAccount secrets (legacy tokens) accepted; want unsupported field")
	}
}

// indentBy indents every line of s.
func indentBy(prefix, s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
