package api

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
)

func TestShouldAutomountServiceAccountToken(t *testing.T) {
	yes, no := ptr(true), ptr(false)
	for _, tt := range []struct {
		name      string
		pod, sa   *bool
		noAccount bool
		want      bool
	}{
		{name: "neither says", want: true},
		{name: "no ServiceAccount yet", noAccount: true, want: true},
		{name: "the ServiceAccount opts out", sa: no, want: false},
		{name: "the pod opts out", pod: no, want: false},
		{name: "the pod opts back in", pod: yes, sa: no, want: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := &PodSpec{AutomountServiceAccountToken: tt.pod}
			var sa *ServiceAccount
			if !tt.noAccount {
				sa = &ServiceAccount{AutomountServiceAccountToken: tt.sa}
			}
			if got := ShouldAutomountServiceAccountToken(spec, sa); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMountServiceAccountToken(t *testing.T) {
	mount := VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: ServiceAccountTokenMountPath}
	own := VolumeMount{Name: "mine", MountPath: ServiceAccountTokenMountPath}
	tokenVolume := Volume{Name: "kube-api-access-abcde", VolumeSource: VolumeSource{Projected: ServiceAccountTokenVolumeSource()}}
	for _, tt := range []struct {
		name string
		in   PodSpec
		want PodSpec
	}{
		{
			name: "every init and app container mounts one new volume",
			in:   PodSpec{InitContainers: []Container{{Name: "i"}}, Containers: []Container{{Name: "a"}, {Name: "b"}}},
			want: PodSpec{
				InitContainers: []Container{{Name: "i", VolumeMounts: []VolumeMount{mount}}},
				Containers:     []Container{{Name: "a", VolumeMounts: []VolumeMount{mount}}, {Name: "b", VolumeMounts: []VolumeMount{mount}}},
				Volumes:        []Volume{tokenVolume},
			},
		},
		{
			name: "a container with its own mount at the path keeps it",
			in: PodSpec{Containers: []Container{{Name: "a", VolumeMounts: []VolumeMount{own}}, {Name: "b"}},
				Volumes: []Volume{{Name: "mine"}}},
			want: PodSpec{Containers: []Container{{Name: "a", VolumeMounts: []VolumeMount{own}}, {Name: "b", VolumeMounts: []VolumeMount{mount}}},
				Volumes: []Volume{{Name: "mine"}, tokenVolume}},
		},
		{
			name: "no volume when no container needs it",
			in:   PodSpec{Containers: []Container{{Name: "a", VolumeMounts: []VolumeMount{own}}}, Volumes: []Volume{{Name: "mine"}}},
			want: PodSpec{Containers: []Container{{Name: "a", VolumeMounts: []VolumeMount{own}}}, Volumes: []Volume{{Name: "mine"}}},
		},
		{
			name: "an existing kube-api-access volume is reused, whatever its suffix",
			in: PodSpec{Containers: []Container{{Name: "a"}},
				Volumes: []Volume{{Name: "kube-api-access-zzzzz", VolumeSource: VolumeSource{Projected: ServiceAccountTokenVolumeSource()}}}},
			want: PodSpec{Containers: []Container{{Name: "a", VolumeMounts: []VolumeMount{{Name: "kube-api-access-zzzzz", ReadOnly: true, MountPath: ServiceAccountTokenMountPath}}}},
				Volumes: []Volume{{Name: "kube-api-access-zzzzz", VolumeSource: VolumeSource{Projected: ServiceAccountTokenVolumeSource()}}}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.in.DeepCopy()
			MountServiceAccountToken(spec, "kube-api-access-abcde")
			if !equality.Semantic.DeepEqual(*spec, tt.want) {
				t.Fatalf("got\n%+v\nwant\n%+v", *spec, tt.want)
			}
			again := spec.DeepCopy()
			MountServiceAccountToken(again, "kube-api-access-other")
			if !equality.Semantic.DeepEqual(again, spec) {
				t.Fatalf("not idempotent: a second call gave\n%+v", *again)
			}
		})
	}
	// The result is a valid pod: the volume passes kube-apiserver's checks.
	p := &Pod{ObjectMeta: ObjectMeta{Name: "web", Namespace: "default", UID: "u"},
		Spec: PodSpec{Containers: []Container{{Name: "a", Image: "busybox"}}}}
	SetPodDefaults(p)
	MountServiceAccountToken(&p.Spec, "kube-api-access-abcde")
	if err := ValidatePod(p); err != nil {
		t.Fatalf("pod with the token volume: %v", err)
	}
}
