package apiserver

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// readDeleteOptions reads a DELETE request's options as kube-apiserver
// does: a DeleteOptions body when the request has one (kubectl sends
// `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}`),
// otherwise the query parameters gracePeriodSeconds, propagationPolicy,
// orphanDependents and dryRun. The options are validated (400 or 422);
// nil options mean none were given.
func readDeleteOptions(r *http.Request) (*api.DeleteOptions, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return nil, BodyError(err)
	}
	var o *api.DeleteOptions
	if len(body) > 0 {
		if o, err = api.DecodeDeleteOptions(body); err != nil {
			return nil, err
		}
	} else {
		q := r.URL.Query()
		o = &api.DeleteOptions{}
		if s := q.Get("gracePeriodSeconds"); s != "" {
			g, err := strconv.ParseInt(s, 10, 64)
			if err != nil || g < 0 {
				return nil, api.NewBadRequest(fmt.Sprintf("gracePeriodSeconds %q: must be a non-negative integer", s))
			}
			o.GracePeriodSeconds = &g
		}
		if s := q.Get("propagationPolicy"); s != "" {
			p := api.DeletionPropagation(s)
			o.PropagationPolicy = &p
		}
		if s := q.Get("orphanDependents"); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, api.NewBadRequest(fmt.Sprintf("orphanDependents %q: must be true or false", s))
			}
			o.OrphanDependents = &b
		}
		o.DryRun = q["dryRun"]
	}
	if err := api.ValidateDeleteOptions(o); err != nil {
		return nil, err
	}
	return o, nil
}

// uidPrecondition is the uid a DeleteOptions requires, or "".
func uidPrecondition(o *api.DeleteOptions) types.UID {
	if o != nil && o.Preconditions != nil && o.Preconditions.UID != nil {
		return types.UID(*o.Preconditions.UID)
	}
	return ""
}
