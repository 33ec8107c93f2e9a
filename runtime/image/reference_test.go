package image

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	const digest = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	tests := []struct {
		in, want string
		invalid  bool
	}{
		{in: "busybox", want: "docker.io/library/busybox:latest"},
		{in: "busybox:1.36", want: "docker.io/library/busybox:1.36"},
		{in: "library/busybox", want: "docker.io/library/busybox:latest"},
		{in: "docker.io/busybox", want: "docker.io/library/busybox:latest"},
		{in: "index.docker.io/library/busybox:1", want: "docker.io/library/busybox:1"},
		{in: "someone/app", want: "docker.io/someone/app:latest"},
		{in: "localhost/busybox", want: "localhost/busybox:latest"},
		{in: "localhost/busybox:latest", want: "localhost/busybox:latest"},
		{in: "localhost:5000/busybox", want: "localhost:5000/busybox:latest"},
		{in: "127.0.0.1:5000/a/b:c", want: "127.0.0.1:5000/a/b:c"},
		{in: "quay.io/x/y@" + digest, want: "quay.io/x/y@" + digest},
		{in: "busybox:1@" + digest, want: "docker.io/library/busybox@" + digest},
		{in: "Busybox", invalid: true},
		{in: "", invalid: true},
		{in: "http://reg/x", invalid: true},
		{in: "a b", invalid: true},
	}
	for _, tc := range tests {
		got, err := Normalize(tc.in)
		switch {
		case tc.invalid && !errors.Is(err, ErrInvalidImageName):
			t.Errorf("Normalize(%q) = %q, %v; want ErrInvalidImageName", tc.in, got, err)
		case !tc.invalid && (err != nil || got != tc.want):
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestReferenceSchemeAndLocality(t *testing.T) {
	insecure := []string{"registry.lan:5000", "docker.io", "Other.Lan"}
	tests := []struct {
		ref        string
		wantScheme string
		wantLocal  bool
	}{
		{"registry.lan:5000/app", "http", false},
		{"registry.lan:5001/app", "https", false}, // another port is another registry
		{"other.lan/app", "http", false},
		{"busybox", "http", false}, // docker.io listed (odd, but honoured)
		{"quay.io/app", "https", false},
		{"127.0.0.1:5000/app", "http", false},
		{"localhost:5000/app", "http", false},
		{"localhost/app", "https", true}, // never fetched: local-only
	}
	for _, tc := range tests {
		r, err := parseReference(tc.ref, insecure)
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		if got := r.remote.Context().Scheme(); got != tc.wantScheme || r.localOnly != tc.wantLocal {
			t.Errorf("%s: scheme %s local %v; want %s %v", tc.ref, got, r.localOnly, tc.wantScheme, tc.wantLocal)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), ""},
		{pullError("x", errors.New("boom")), ReasonErrImagePull},
		{pullError("localhost/x", errors.New("boom"), ErrLocalOnly), ReasonErrImagePull},
		{neverPullError("x"), ReasonErrImageNeverPull},
		{invalidNameError("X", errors.New("bad")), ReasonInvalidImageName},
	}
	for _, tc := range tests {
		if got := Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
