package api

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeInto(t *testing.T) {
	var n Node
	if err := DecodeInto([]byte(`{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1"},"spec":{"unschedulable":true},"status":{}}`), &n); err != nil {
		t.Fatal(err)
	}
	if n.Name != "n1" || !n.Spec.Unschedulable {
		t.Fatalf("decoded %+v", n)
	}
	for _, tt := range []struct{ in, want string }{
		{`{"kind":"Node","metadata":{"name":"n1"},"spec":{"providerID":"aws:///i-1","unschedulable":"yes"}}`,
			`document 1 (Node "n1"): [spec.providerID: unsupported field, spec.unschedulable: expected a boolean (true or false), got a string "yes"]`},
		{`{"kind":"Node","metadata":{"name":"n1"},"spec":{"shoeSize":0}}`, `spec.shoeSize: unknown field`},
		{`{"metadata":{"name":"n1","managedFields":[{"manager":"kubectl"}]}}`, `metadata.managedFields: unsupported field`},
		{`{"metadata":{"name":"n1"},"metadata":{}}`, `metadata: duplicate field`},
		{`[]`, `expected one JSON object`},
		{`{} {}`, `expected one JSON object`},
	} {
		var n Node
		err := DecodeInto([]byte(tt.in), &n)
		var de *DecodeError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want a DecodeError with %q", tt.in, err, tt.want)
		}
	}
	if err := DecodeInto([]byte(`{}`), Node{}); err == nil {
		t.Error("a non-pointer was accepted")
	}
}
