package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeInto feeds arbitrary bytes to the strict decoder of PATCHed
// nodes (DecodeInto) and of DELETE bodies (DecodeDeleteOptions), the two
// request decoders that do not dispatch on kind. Errors must be what the
// handlers answer with (a *DecodeError or a *Status); what decodes must
// validate to nil or a *Status and decode again, from its own JSON, to the
// same JSON.
func FuzzDecodeInto(f *testing.F) {
	for _, s := range []string{
		`{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","uid":"u-1","labels":{"kubernetes.io/hostname":"n1"}},` +
			`"spec":{"podCIDR":"10.244.1.0/24","unschedulable":true,"taints":[{"key":"k","effect":"NoSchedule"}]},` +
			`"status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"110"},"addresses":[{"type":"InternalIP","address":"10.0.0.1"}],` +
			`"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2025-01-01T00:00:00Z"}]}}`,
		`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","gracePeriodSeconds":0}`,
		`{"apiVersion":"meta.k8s.io/v1","kind":"DeleteOptions","preconditions":{"uid":"u-1"},"orphanDependents":true}`,
		`{"dryRun":["All"],"preconditions":{"resourceVersion":"7"}}`,
		`{"metadata":{"name":"n","name":"m"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n Node
		if err := DecodeInto(data, &n); err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeInto: %T (%v), want a *DecodeError", err, err)
			}
		} else {
			if err := ValidateNode(&n, false); err != nil {
				if _, ok := err.(*Status); !ok {
					t.Fatalf("ValidateNode returned %T", err)
				}
			}
			first, err := json.Marshal(&n)
			if err != nil {
				t.Fatalf("marshal decoded node: %v", err)
			}
			var again Node
			if err := DecodeInto(first, &again); err != nil {
				t.Fatalf("decoded node's own JSON does not decode: %v\n%s", err, first)
			}
			if second, _ := json.Marshal(&again); !bytes.Equal(first, second) {
				t.Fatalf("node changed through JSON:\n%s\n%s", first, second)
			}
		}

		o, err := DecodeDeleteOptions(data)
		if err != nil {
			if _, ok := err.(*Status); !ok {
				t.Fatalf("DecodeDeleteOptions: %T (%v), want a *Status", err, err)
			}
			if o != nil {
				t.Fatal("options returned with an error")
			}
			return
		}
		if err := ValidateDeleteOptions(o); err != nil {
			if _, ok := err.(*Status); !ok {
				t.Fatalf("ValidateDeleteOptions returned %T", err)
			}
		}
		first, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal decoded options: %v", err)
		}
		again, err := DecodeDeleteOptions(first)
		if err != nil {
			t.Fatalf("decoded options' own JSON does not decode: %v\n%s", err, first)
		}
		if second, _ := json.Marshal(again); !bytes.Equal(first, second) {
			t.Fatalf("options changed through JSON:\n%s\n%s", first, second)
		}
	})
}
