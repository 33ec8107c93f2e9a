package agent

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestSyncReadThroughLeaderChange: consistent reads on every agent while
// leadership moves (as under load, when a leader steps down) wait for the
// next leader within their budget instead of failing with a 503.
func TestSyncReadThroughLeaderChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts agents")
	}
	agents, stop := startAgents(t, nextBlock(), 3, 3)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	for round := range 3 {
		var leader *Agent
		for _, a := range agents {
			if a.store.IsLeader() {
				leader = a
			}
		}
		if leader == nil {
			t.Fatalf("round %d: no leader", round)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for _, a := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if err := a.api.SyncRead(context.Background()); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		if err := leader.store.TransferLeadership(); err != nil {
			t.Logf("round %d: transfer: %v", round, err)
		}
		waitForLeader(t, agents, 10*time.Second)
		time.Sleep(100 * time.Millisecond) // reads keep going after the change
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: a read during the leader change failed: %v", round, err)
		}
	}
}
