package patch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/gossipod/gossipod/api"
)

// ChangedPaths lists the field paths at which the JSON forms of before
// and after differ ("metadata.labels.team", "spec.podCIDR",
// "status.addresses[0].address"), sorted, for a handler that lets a patch
// change only some fields of an object and must name the others it
// refuses. A list that changes length is reported as a whole.
func ChangedPaths(before, after any) ([]string, error) {
	var a, b any
	if err := roundTrip(before, &a); err != nil {
		return nil, err
	}
	if err := roundTrip(after, &b); err != nil {
		return nil, err
	}
	var out []string
	diff("", a, b, &out)
	sort.Strings(out)
	return out, nil
}

func roundTrip(v any, into *any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return json.Unmarshal(b, into)
}

func diff(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for k, av := range am {
			diff(join(path, k), av, bm[k], out)
		}
		for k, bv := range bm {
			if _, seen := am[k]; !seen {
				diff(join(path, k), nil, bv, out)
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diff(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// ForbiddenChanges is the 422 Invalid Status refusing a patch that changed
// fields the kind does not let a client change, one Forbidden cause per
// path, in the words of Kubernetes' field errors:
//
//	Node "n1" is invalid: metadata.labels.team: Forbidden: <why>
func ForbiddenChanges(kind, name string, paths []string, why string) *api.Status {
	errs := make(field.ErrorList, 0, len(paths))
	causes := make([]api.StatusCause, 0, len(paths))
	for _, p := range paths {
		e := field.Forbidden(field.NewPath(p), why)
		errs = append(errs, e)
		causes = append(causes, api.StatusCause{Type: string(e.Type), Message: e.ErrorBody(), Field: e.Field})
	}
	st := api.NewStatus(http.StatusUnprocessableEntity, api.StatusReasonInvalid,
		fmt.Sprintf("%s %q is invalid: %s", kind, name, errs.ToAggregate()))
	st.Details = &api.StatusDetails{Kind: kind, Name: name, Causes: causes}
	return st
}
