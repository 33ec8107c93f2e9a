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
	// sendInitialEvents=true is client-go's watch-list (kubectl rollout
	// status, informers): the current objects as ADDED whatever the
	// resourceVersion, then a BOOKMARK marking their end.
	sendInitial := r.URL.Query().Get("sendInitialEvents") == "true"
	var rv uint64
	var initial []any
	if s := r.URL.Query().Get("resourceVersion"); s != "" && s != "0" && !sendInitial {
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
		if typ != "ERROR" && typ != watchBookmark {
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
	if sendInitial && !send(watchBookmark, bookmark(kind, rv, true)) {
		return
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

// watchBookmark is the watch event that carries only a resourceVersion.
const watchBookmark = "BOOKMARK"

// bookmark is the object of a BOOKMARK event, as kube-apiserver sends it:
// an object of the watched kind with nothing but its resourceVersion and,
// at the end of a watch-list's initial events, the annotation
// k8s.io/initial-events-end that client-go's reflector waits for.
func bookmark(kind string, rv uint64, initialEnd bool) map[string]any {
	apiVersion := "v1"
	if kind == "Deployment" || kind == "ReplicaSet" {
		apiVersion = "apps/v1"
	}
	meta := map[string]any{"resourceVersion": strconv.FormatUint(rv, 10)}
	if initialEnd {
		meta["annotations"] = map[string]string{"k8s.io/initial-events-end": "true"}
	}
	return map[string]any{"kind": kind, "apiVersion": apiVersion, "metadata": meta}
}
