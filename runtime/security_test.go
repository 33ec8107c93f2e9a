package runtime

import (
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
)

// containerSecurity merges the pod's and the container's securityContext
// with the image's USER as kubelet and containerd do.
func TestContainerSecurity(t *testing.T) {
	pod := func(psc *api.PodSecurityContext, sc *api.SecurityContext) *api.Pod {
		p := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "web", Namespace: "shop", UID: "u-1"},
			Spec: api.PodSpec{SecurityContext: psc, Containers: []api.Container{{Name: "app", SecurityContext: sc}}}}
		return p
	}
	tests := []struct {
		name      string
		pod       *api.Pod
		imageUser string
		want      securitySpec
		wantErr   string
	}{
		{name: "nothing set: the image's USER", pod: pod(nil, nil), imageUser: "app:staff", want: securitySpec{User: "app:staff"}},
		{name: "runAsUser replaces the image's user and group", pod: pod(&api.PodSecurityContext{RunAsUser: ptr(int64(1000))}, nil),
			imageUser: "app:staff", want: securitySpec{User: "1000"}},
		{name: "runAsGroup alone keeps the image's user", pod: pod(nil, &api.SecurityContext{RunAsGroup: ptr(int64(50))}),
			imageUser: "app:staff", want: securitySpec{User: "app:50"}},
		{name: "runAsGroup alone, no USER: root's uid", pod: pod(&api.PodSecurityContext{RunAsGroup: ptr(int64(50))}, nil),
			want: securitySpec{User: "0:50"}},
		{name: "the container's runAsUser wins", pod: pod(&api.PodSecurityContext{RunAsUser: ptr(int64(1)), RunAsGroup: ptr(int64(2))},
			&api.SecurityContext{RunAsUser: ptr(int64(3))}), want: securitySpec{User: "3:2"}},
		{name: "groups, sysctls, Strict", pod: pod(&api.PodSecurityContext{FSGroup: ptr(int64(2000)), SupplementalGroups: []int64{1, 2},
			SupplementalGroupsPolicy: ptr(corev1.SupplementalGroupsPolicyStrict),
			Sysctls:                  []corev1.Sysctl{{Name: "net/ipv4/tcp_syncookies", Value: "1"}}}, nil),
			want: securitySpec{SupplementalGroups: []int64{2000, 1, 2}, StrictSupplementalGroups: true,
				Sysctls: map[string]string{"net.ipv4.tcp_syncookies": "1"}}},
		{name: "container settings", pod: pod(nil, &api.SecurityContext{Privileged: ptr(true), ReadOnlyRootFilesystem: ptr(true),
			AllowPrivilegeEscalation: ptr(true), Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}}),
			want: securitySpec{Privileged: true, ReadOnlyRootfs: true, CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}}},
		{name: "allowPrivilegeEscalation false", pod: pod(nil, &api.SecurityContext{AllowPrivilegeEscalation: ptr(false)}),
			want: securitySpec{NoNewPrivileges: true}},
		{name: "runAsNonRoot, numeric non-root image", pod: pod(&api.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil),
			imageUser: "1000:1000", want: securitySpec{User: "1000:1000"}},
		{name: "runAsNonRoot, no USER", pod: pod(&api.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil),
			wantErr: `container has runAsNonRoot and image will run as root (pod: "web_shop(u-1)", container: app)`},
		{name: "runAsNonRoot, USER 0:1000", pod: pod(nil, &api.SecurityContext{RunAsNonRoot: ptr(true)}), imageUser: "0:1000",
			wantErr: `container has runAsNonRoot and image will run as root (pod: "web_shop(u-1)", container: app)`},
		{name: "runAsNonRoot, a named USER", pod: pod(&api.PodSecurityContext{RunAsNonRoot: ptr(true)}, nil), imageUser: "app",
			wantErr: `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "web_shop(u-1)", container: app)`},
		{name: "runAsNonRoot with runAsUser 0", pod: pod(&api.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: ptr(int64(0))}, nil),
			imageUser: "1000", wantErr: `container's runAsUser breaks non-root policy (pod: "web_shop(u-1)", container: app)`},
		{name: "runAsNonRoot with runAsUser over a root image", pod: pod(&api.PodSecurityContext{RunAsNonRoot: ptr(true)},
			&api.SecurityContext{RunAsUser: ptr(int64(5))}), want: securitySpec{User: "5"}},
		{name: "the container's runAsNonRoot false wins", pod: pod(&api.PodSecurityContext{RunAsNonRoot: ptr(true)},
			&api.SecurityContext{RunAsNonRoot: ptr(false)}), want: securitySpec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := containerSecurity(tt.pod, &tt.pod.Spec.Containers[0], tt.imageUser)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				if _, ok := errors.AsType[*configError](err); !ok {
					t.Errorf("%v is not a configError (CreateContainerConfigError)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
