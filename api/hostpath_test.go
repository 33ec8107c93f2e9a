package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestHostPathAllowed(t *testing.T) {
	for _, tc := range []struct {
		path    string
		allowed []string
		want    bool
	}{
		{"/data", nil, false},
		{"/", nil, false},
		{"/data", []string{"/data"}, true},
		{"/data/", []string{"/data"}, true},
		{"/data/x/y", []string{"/data"}, true},
		{"/data2", []string{"/data"}, false},
		{"/data2/x", []string{"/data"}, false},
		{"/dat", []string{"/data"}, false},
		{"/data/../etc", []string{"/data"}, false},
		{"/data/./x", []string{"/data"}, true},
		{"//data//x", []string{"/data"}, true},
		{"/etc", []string{"/data", "/etc"}, true},
		{"/anything", []string{"/"}, true},
		{"data/x", []string{"/data"}, false},
		{"/srv", []string{"/srv/www"}, false},
		{"/data", []string{"data"}, false},
	} {
		if got := HostPathAllowed(tc.path, tc.allowed); got != tc.want {
			t.Errorf("HostPathAllowed(%q, %q) = %v, want %v", tc.path, tc.allowed, got, tc.want)
		}
	}
}

func TestValidateHostPaths(t *testing.T) {
	hp := func(path string) Volume {
		return Volume{Name: "h", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: path}}}
	}
	empty := Volume{Name: "e", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{}}}
	for _, tc := range []struct {
		name    string
		volumes []Volume
		allowed []string
		want    string // the Status message; "" for no error
	}{
		{"no hostPath", []Volume{empty}, nil, ""},
		{"disabled", []Volume{empty, hp("/etc")}, nil,
			`Pod "p" is invalid: spec.volumes[1].hostPath.path: Forbidden: /etc is not under any of the agent's --allowed-host-paths (empty: hostPath volumes are disabled)`},
		{"outside", []Volume{hp("/etc")}, []string{"/data", "/srv"},
			`Pod "p" is invalid: spec.volumes[0].hostPath.path: Forbidden: /etc is not under any of the agent's --allowed-host-paths (/data, /srv)`},
		{"under", []Volume{hp("/srv/www")}, []string{"/data", "/srv"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pod{ObjectMeta: ObjectMeta{Name: "p"}, Spec: PodSpec{Volumes: tc.volumes}}
			checkStatus(t, ValidatePodHostPaths(p, tc.allowed), "Pod", tc.want)
			d := &Deployment{ObjectMeta: ObjectMeta{Name: "p"}}
			d.Spec.Template.Spec.Volumes = tc.volumes
			want := strings.Replace(strings.Replace(tc.want, "spec.volumes", "spec.template.spec.volumes", 1), "Pod ", "Deployment ", 1)
			checkStatus(t, ValidateDeploymentHostPaths(d, tc.allowed), "Deployment", want)
		})
	}
}

// checkStatus fails unless err is nil (want "") or a 422 about kind with
// message want and a Forbidden cause.
func checkStatus(t *testing.T, err error, kind, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var st *Status
	if !errors.As(err, &st) {
		t.Fatalf("error %v (%T), want *Status", err, err)
	}
	if st.Code != http.StatusUnprocessableEntity || st.Details == nil || st.Details.Kind != kind ||
		len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != "FieldValueForbidden" {
		t.Errorf("status %+v", st)
	}
	if st.Message != want {
		t.Errorf("message\n %s\nwant\n %s", st.Message, want)
	}
}
