package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/tables"
	"github.com/gossipod/gossipod/consensus"
)

// watchEvent is one line of a Kubernetes watch stream.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// serveWatch streams the changes of one kind as Kubernetes does for
// ?watch=1: newline-delimited JSON events, ADDED for every current object
// first unless the client resumes from a resourceVersion, then every change.
// It waits on the State's change signal, never polls, and ends when the
// client goes away, after ?timeoutSeconds, or with an ERROR event (410
// Gone) if the client's resourceVersion is too old to resume from. A
// client that asks for Tables (`kubectl get -w`) gets each object as a
// Table of one row, the first with the column definitions.
func (a *Agent) serveWatch(w http.ResponseWriter, r *http.Request, kind string, match func(any) bool, list func() ([]any, uint64)) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, api.NewInternalError(fmt.Errorf("streaming unsupported")))
		return
	}
	ctx := r.Context()
	transform, err := tables.NewWatchTransformer(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if s := r.URL.Query().Get("timeoutSeconds"); s != "" {
		secs, err := strconv.Atoi(s)
		if err != nil || secs < 0 {
			writeError(w, api.NewBadRequest(fmt.Sprintf("timeoutSeconds %q: must be a non-negative integer", s)))
			return
		}
		if secs > 0 {
			var cancel func()
			ctx, cancel = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
			defer cancel()
		}
	}
	var rv uint64
	var initial []any
	if s := r.URL.Query().Get("resourceVersion"); s != "" && s != "0" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, api.NewBadRequest(fmt.Sprintf("resourceVersion %q: must be a number", s)))
			return
		}
		rv = v
	} else {
		initial, rv = list()
	}

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(typ string, obj any) bool {
		if typ != "ERROR" {
			var err error
			if obj, err = transform.Transform(obj); err != nil {
				obj, typ = api.NewInternalError(err), "ERROR"
			}
		}
		if err := enc.Encode(watchEvent{Type: typ, Object: obj}); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	for _, obj := range initial {
		if !send(consensus.WatchAdded, obj) {
			return
		}
	}
	flusher.Flush()
	state := a.store.State()
	for {
		changed := state.Changed()
		events, ok := state.WatchSince(rv, kind)
		if !ok {
			gone := api.NewStatus(http.StatusGone, "Expired", fmt.Sprintf("too old resource version: %d", rv))
			send("ERROR", gone)
			return
		}
		for _, e := range events {
			rv = e.Index
			if match(e.Object) && !send(e.Type, e.Object) {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
