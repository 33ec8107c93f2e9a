package api

import (
	"errors"
	"strings"
	"testing"
)

func replicaSetYAML(name string) string {
	return `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: ` + name + `
spec:
  replicas: 3
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
      - name: app
        image: busybox:1.36
`
}

func validReplicaSet() *ReplicaSet {
	d := validDeployment()
	rs := &ReplicaSet{
		ObjectMeta: ObjectMeta{Name: "web-abc", Namespace: "default"},
		Spec: ReplicaSetSpec{Replicas: ptr(int32(2)), Selector: d.Spec.Selector, Template: d.Spec.Template,
			MinReadySeconds: d.Spec.MinReadySeconds},
	}
	SetReplicaSetDefaults(rs)
	return rs
}

func TestDecodeReplicaSet(t *testing.T) {
	objs, err := DecodeManifests([]byte(replicaSetYAML("web") + "---\napiVersion: apps/v1\nkind: ReplicaSetList\nitems:\n" + indent(replicaSetYAML("db"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("decoded %d objects, want 2", len(objs))
	}
	rs, ok := objs[0].(*ReplicaSet)
	if !ok || rs.Name != "web" || *rs.Spec.Replicas != 3 || rs.Spec.Template.Spec.Containers[0].Image != "busybox:1.36" {
		t.Fatalf("decoded %#v", objs[0])
	}
	if db, ok := objs[1].(*ReplicaSet); !ok || db.Name != "db" {
		t.Fatalf("list item decoded as %#v", objs[1])
	}

	_, err = DecodeManifests([]byte(strings.Replace(replicaSetYAML("web"), "  replicas: 3\n", "  replicas: 3\n  paused: true\n", 1) +
		"status: {terminatingReplicas: 1}\n"))
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("unknown fields: got %v, want a DecodeError", err)
	}
	if got, want := err.Error(), `document 1 (ReplicaSet "web"): [spec.paused: unknown field, status.terminatingReplicas: unsupported field]`; got != want {
		t.Errorf("error:\n got: %s\nwant: %s", got, want)
	}
}

func TestValidateReplicaSet(t *testing.T) {
	tests := []struct {
		name   string
		change func(rs *ReplicaSet)
		want   string // "" for valid
	}{
		{name: "valid", change: func(*ReplicaSet) {}},
		{name: "selector does not match", change: func(rs *ReplicaSet) { rs.Spec.Template.Labels = map[string]string{"app": "db"} },
			want: "spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`"},
		{name: "empty selector", change: func(rs *ReplicaSet) { rs.Spec.Selector = &LabelSelector{} },
			want: "spec.selector: Invalid value: {}: empty selector is invalid for deployment"},
		{name: "no selector", change: func(rs *ReplicaSet) { rs.Spec.Selector = nil }, want: "spec.selector: Required value"},
		{name: "too many replicas", change: func(rs *ReplicaSet) { rs.Spec.Replicas = ptr(int32(11)) },
			want: "spec.replicas: Invalid value: 11: must be less than or equal to 10"},
		{name: "negative minReadySeconds", change: func(rs *ReplicaSet) { rs.Spec.MinReadySeconds = -1 },
			want: "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"},
		{name: "restartPolicy Never", change: func(rs *ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = RestartPolicyNever },
			want: `spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`},
		{name: "name too long for its pods", change: func(rs *ReplicaSet) { rs.Name = strings.Repeat("a", 248) },
			want: "metadata.name: Invalid value: \"" + strings.Repeat("a", 248) + "\": must be no more than 247 bytes"},
		{name: "two controllers", change: func(rs *ReplicaSet) {
			rs.OwnerReferences = []OwnerReference{NewControllerRef("apps/v1", "Deployment", "a", "u1"), NewControllerRef("apps/v1", "Deployment", "b", "u2")}
		}, want: "Only one reference can have Controller set to true. Found \"true\" in references for Deployment/a and Deployment/b"},
		{name: "owner without uid", change: func(rs *ReplicaSet) {
			rs.OwnerReferences = []OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "a"}}
		}, want: "metadata.ownerReferences[0].uid: Invalid value: \"\": uid must not be empty"},
		{name: "a finalizer gossipod does not implement", change: func(rs *ReplicaSet) { rs.Finalizers = []string{"example.com/x"} },
			want: `metadata.finalizers[0]: Unsupported value: "example.com/x": supported values: "foregroundDeletion", "orphan"`},
		{name: "the garbage collector's finalizer, as get -o yaml prints it", change: func(rs *ReplicaSet) {
			rs.Finalizers = []string{FinalizerForegroundDeletion}
		}},
		{name: "finalizers in the template", change: func(rs *ReplicaSet) { rs.Spec.Template.Finalizers = []string{FinalizerOrphan} },
			want: "spec.template.metadata.finalizers: Forbidden: may not be set in a pod template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := validReplicaSet()
			tt.change(rs)
			err := ValidateReplicaSet(rs, 10)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("valid ReplicaSet refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), `ReplicaSet "`+rs.Name+`" is invalid: `) {
				t.Errorf("error %q does not name the ReplicaSet", err)
			}
		})
	}
}

func TestValidateReplicaSetUpdate(t *testing.T) {
	old := validReplicaSet()
	old.UID = "u"
	scaled := validReplicaSet()
	scaled.Spec.Replicas = ptr(int32(5))
	if err := ValidateReplicaSetUpdate(old, scaled, 10); err != nil {
		t.Fatalf("scaling refused: %v", err)
	}
	moved := validReplicaSet()
	moved.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	if err := ValidateReplicaSetUpdate(old, moved, 10); err == nil || !strings.Contains(err.Error(), "spec.selector: Invalid value: ") ||
		!strings.Contains(err.Error(), "field is immutable") {
		t.Fatalf("selector change: %v, want field is immutable", err)
	}
	if err := ValidateNewReplicaSet(validReplicaSet()); err == nil || !strings.Contains(err.Error(), "metadata.uid: Required value") {
		t.Fatalf("stored without uid: %v", err)
	}
}

func TestDecodeDeleteOptions(t *testing.T) {
	o, err := DecodeDeleteOptions([]byte(`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","gracePeriodSeconds":3,"preconditions":{"uid":"u"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if o.Propagation(DeletePropagationBackground) != DeletePropagationForeground || *o.GracePeriodSeconds != 3 || *o.Preconditions.UID != "u" {
		t.Fatalf("decoded %+v", o)
	}
	if err := ValidateDeleteOptions(o); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]string{
		`{"kind":"DeleteOptions","apiVersion":"v1","propagation":"Orphan"}`: "propagation: unknown field",
		`{"kind":"Pod","apiVersion":"v1"}`:                                  "expected a DeleteOptions",
		`{"apiVersion":"v2"}`:                                               `version "v2" cannot be handled`,
		`[]`:                                                                "expected one JSON object",
		`{"apiVersion":"meta.k8s.io/v1","ignoreStoreReadErrorWithClusterBreakingPotential":1}`: "unsupported field",
	} {
		if _, err := DecodeDeleteOptions([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", body, err, want)
		}
	}
	orphan := true
	bad := DeletionPropagation("Later")
	neg := int64(-1)
	for _, tc := range []struct {
		o    DeleteOptions
		want string
	}{
		{DeleteOptions{OrphanDependents: &orphan, PropagationPolicy: &bad}, "orphanDependents and deletionPropagation cannot be both set"},
		{DeleteOptions{PropagationPolicy: &bad}, `propagationPolicy: Unsupported value: "Later": supported values: "Foreground", "Background", "Orphan"`},
		{DeleteOptions{GracePeriodSeconds: &neg}, "gracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"},
		{DeleteOptions{DryRun: []string{"All"}}, "dryRun: Unsupported value"},
	} {
		if err := ValidateDeleteOptions(&tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
	if p := (&DeleteOptions{OrphanDependents: &orphan}).Propagation(DeletePropagationBackground); p != DeletePropagationOrphan {
		t.Errorf("orphanDependents=true resolves to %s", p)
	}
	if p := (*DeleteOptions)(nil).Propagation(DeletePropagationBackground); p != DeletePropagationBackground {
		t.Errorf("no options resolve to %s", p)
	}
}
