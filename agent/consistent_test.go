package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TestReadNotOlderThanResourceVersion: a list or a watch-list naming a
// resourceVersion the agent has not applied yet waits until it has, as
// kube-apiserver does, instead of answering with an older state, which sent a
// re-listing client-go informer back in time on a just restarted agent. A
// version not reached within the bound gets kube-apiserver's 504 "Too large
// resource version" with the cause client-go's reflector acts on. A plain
// watch and ?resourceVersion=0 do not wait.
func TestReadNotOlderThanResourceVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	cl := adminClient(t, agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list := func(query string) (uint64, error) {
		var l api.PodList
		if err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods?"+query, nil, &l); err != nil {
			return 0, err
		}
		return strconv.ParseUint(l.ResourceVersion, 10, 64)
	}

	// One version ahead: the list waits for the write that reaches it.
	ahead := agents[0].store.State().Index() + 1
	created := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond) // let the list arrive first
		p := testPodSpec("next", "1Mi")
		p.Spec.NodeSelector = map[string]string{"gossipod.test/none": "x"}
		created <- cl.Do(ctx, http.MethodPost, "/api/v1/namespaces/default/pods", p, nil)
	}()
	rv, err := list(fmt.Sprintf("resourceVersion=%d&resourceVersionMatch=NotOlderThan", ahead))
	if err != nil || rv < ahead {
		t.Fatalf("list not older than %d: resourceVersion %d, %v", ahead, rv, err)
	}
	if err := <-created; err != nil {
		t.Fatalf("create pod: %v", err)
	}

	// Far ahead: refused the way the reflector understands.
	far := agents[0].store.State().Index() + 1_000_000
	for _, query := range []string{
		fmt.Sprintf("resourceVersion=%d", far),
		fmt.Sprintf("watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=%d", far),
	} {
		_, err := list(query)
		var st *api.Status
		if !errors.As(err, &st) || st.Code != http.StatusGatewayTimeout || st.Details == nil ||
			len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != api.CauseResourceVersionTooLarge {
			t.Errorf("?%s: %#v, want a 504 with cause %s", query, err, api.CauseResourceVersionTooLarge)
		}
	}

	// A plain watch from a future version is served (it sends what comes after
	// it), and version 0 means any state.
	if err := cl.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1&resourceVersion=%d", far), nil, nil); err != nil {
		t.Errorf("plain watch from a future version: %v", err)
	}
	if _, err := list("resourceVersion=0"); err != nil {
		t.Errorf("list at resourceVersion 0: %v", err)
	}
}
