package api

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestValidatePodEnv(t *testing.T) {
	cm := func(name, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
	}
	sec := func(name, key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
	}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	res := func(r, divisor string) *corev1.EnvVarSource {
		fs := &corev1.ResourceFieldSelector{Resource: r}
		if divisor != "" {
			fs.Divisor = resource.MustParse(divisor)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: fs}
	}
	cmRef := func(name string) *corev1.ConfigMapEnvSource {
		return &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
	}
	secRef := func(name string) *corev1.SecretEnvSource {
		return &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}
	}
	const env = "spec.containers[0].env[0].valueFrom"
	tests := []struct {
		name    string
		env     []EnvVar
		envFrom []corev1.EnvFromSource
		want    []string
	}{
		{name: "every supported source", env: []EnvVar{
			{Name: "A", ValueFrom: cm("cfg", "mode")},
			{Name: "B", ValueFrom: sec("creds", "pass.word_1")},
			{Name: "C", ValueFrom: field("metadata.name")},
			{Name: "D", ValueFrom: field("metadata.labels['app']")},
			{Name: "E", ValueFrom: field("metadata.annotations['Example.com/Owner']")},
			{Name: "F", ValueFrom: field("status.podIPs")},
			{Name: "G", ValueFrom: res("limits.memory", "1Mi")},
			{Name: "H", ValueFrom: res("requests.cpu", "1m")},
			{Name: "I", ValueFrom: res("limits.ephemeral-storage", "1Gi")},
		}, envFrom: []corev1.EnvFromSource{{ConfigMapRef: cmRef("cfg"), Prefix: "CFG_"}, {SecretRef: secRef("creds")}}},
		{name: "no source", env: []EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{}}},
			want: []string{env + ": Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"}},
		{name: "two sources", env: []EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: cm("a", "b").ConfigMapKeyRef, SecretKeyRef: sec("a", "b").SecretKeyRef}}},
			want: []string{env + `: Invalid value: "": may not have more than one field specified at a time`}},
		{name: "value and valueFrom", env: []EnvVar{{Name: "A", Value: "x", ValueFrom: cm("a", "b")}},
			want: []string{env + ": Invalid value: \"\": may not be specified when `value` is not empty"}},
		{name: "key not a config key", env: []EnvVar{{Name: "A", ValueFrom: cm("cfg", "a/b")}, {Name: "B", ValueFrom: sec("", "")}},
			want: []string{
				env + `.configMapKeyRef.key: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
				"spec.containers[0].env[1].valueFrom.secretKeyRef.name: Required value",
				"spec.containers[0].env[1].valueFrom.secretKeyRef.key: Required value",
			}},
		{name: "field path env does not support", env: []EnvVar{{Name: "A", ValueFrom: field("spec.restartPolicy")}},
			want: []string{env + `.fieldRef.fieldPath: Unsupported value: "spec.restartPolicy": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`}},
		{name: "unknown field path", env: []EnvVar{{Name: "A", ValueFrom: field("spec.nope")}},
			want: []string{env + `.fieldRef.fieldPath: Invalid value: "spec.nope": error converting fieldPath: field label not supported: spec.nope`}},
		{name: "whole labels, bad label key", env: []EnvVar{{Name: "A", ValueFrom: field("metadata.labels")}, {Name: "B", ValueFrom: field("metadata.labels['a b']")}},
			want: []string{
				env + `.fieldRef.fieldPath: Unsupported value: "metadata.labels": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`,
				`spec.containers[0].env[1].valueFrom.fieldRef: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			}},
		{name: "resource and divisors", env: []EnvVar{
			{Name: "A", ValueFrom: res("limits.gpu", "")},
			{Name: "B", ValueFrom: res("limits.cpu", "1k")},
			{Name: "C", ValueFrom: res("requests.memory", "1m")},
			{Name: "D", ValueFrom: res("", "")},
		}, want: []string{
			env + `.resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"`,
			`spec.containers[0].env[1].valueFrom.resourceFieldRef.divisor: Invalid value: "limits.cpu": only divisor's values 1m and 1 are supported with the cpu resource`,
			`spec.containers[0].env[2].valueFrom.resourceFieldRef.divisor: Invalid value: "requests.memory": only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource`,
			`spec.containers[0].env[3].valueFrom.resourceFieldRef.resource: Required value`,
		}},
		{name: "envFrom sources and prefix", envFrom: []corev1.EnvFromSource{
			{Prefix: "1X"},
			{ConfigMapRef: cmRef("Bad_Name"), SecretRef: secRef("")},
		}, want: []string{
			`spec.containers[0].envFrom[0].prefix: Invalid value: "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
			"spec.containers[0].envFrom: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`",
			`spec.containers[0].envFrom[1].configMapRef.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`spec.containers[0].envFrom[1].secretRef.name: Required value`,
			`spec.containers[0].envFrom: Invalid value: "": may not have more than one field specified at a time`,
		}},
		// A key whose prefixed name is no env var name is kubelet's to skip.
		{name: "prefix valid, keys unknown", envFrom: []corev1.EnvFromSource{{Prefix: "-", ConfigMapRef: cmRef("cfg")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			p.Spec.Containers[0].Env, p.Spec.Containers[0].EnvFrom = tt.env, tt.envFrom
			SetPodDefaults(p)
			got := causeStrings(t, ValidatePod(p))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestFieldRefAPIVersionDefaultsToV1(t *testing.T) {
	p := validPod()
	p.Spec.Containers[0].Env = []EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	SetPodDefaults(p)
	if v := p.Spec.Containers[0].Env[0].ValueFrom.FieldRef.APIVersion; v != "v1" {
		t.Errorf("apiVersion %q, want v1", v)
	}
}

func TestDecodeRefusesFileKeyRef(t *testing.T) {
	manifest := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i",` +
		`"env":[{"name":"A","valueFrom":{"fileKeyRef":{"volumeName":"v","path":"p","key":"k"}}}],` +
		`"envFrom":[{"prefix":"P_","configMapRef":{"name":"cfg"}}]}]}}`
	_, err := DecodeManifests([]byte(manifest))
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0].env[0].valueFrom.fileKeyRef") || strings.Contains(err.Error(), "envFrom") {
		t.Errorf("decode: %v, want only fileKeyRef refused", err)
	}
}
