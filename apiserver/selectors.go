package apiserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gossipod/gossipod/api"
)

// listSelector is a list or watch request's ?labelSelector and
// ?fieldSelector, parsed with Kubernetes' own parsers.
type listSelector struct {
	labels labels.Selector
	fields fields.Selector
}

// parseListSelector reads a request's selectors. fieldLabels are the
// fields a field selector may name for the resource: Kubernetes serves a
// few per kind (metadata.name everywhere, spec.nodeName on pods...) and
// answers any other with 400 "field label not supported", so a selector
// gossipod cannot evaluate is refused rather than ignored.
func parseListSelector(r *http.Request, fieldLabels ...string) (listSelector, error) {
	sel := listSelector{labels: labels.Everything(), fields: fields.Everything()}
	q := r.URL.Query()
	if s := q.Get("labelSelector"); s != "" {
		ls, err := labels.Parse(s)
		if err != nil {
			return sel, api.NewBadRequest(err.Error())
		}
		sel.labels = ls
	}
	if s := q.Get("fieldSelector"); s != "" {
		fs, err := fields.ParseSelector(s)
		if err != nil {
			return sel, api.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		for _, req := range fs.Requirements() {
			if !slices.Contains(fieldLabels, req.Field) {
				return sel, api.NewBadRequest(fmt.Sprintf("field label not supported: %s (supported: %s)", req.Field, strings.Join(fieldLabels, ", ")))
			}
		}
		sel.fields = fs
	}
	return sel, nil
}

// matches reports whether an object with these labels and field values
// is selected.
func (s listSelector) matches(objectLabels map[string]string, objectFields fields.Set) bool {
	return s.labels.Matches(labels.Set(objectLabels)) && s.fields.Matches(objectFields)
}

// keepValues filters a list of objects held by value (the State copies
// nodes, namespaces and service accounts for its readers) in place.
func keepValues[T any](all []T, keep func(*T) bool) []T {
	out := all[:0]
	for i := range all {
		if keep(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// pointersTo returns pointers to the elements of items.
func pointersTo[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
