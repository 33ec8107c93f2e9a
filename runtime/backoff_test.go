package runtime

import (
	"testing"
	"time"
)

// The restart back-off follows kubelet's: the first restart is at once,
// then 10 s, 20 s, … up to 5 min; a container that ran longer than the
// reset window starts over at once.
func TestBackoffSequence(t *testing.T) {
	bo := defaultBackoff
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var e backoffEntry
	type step struct {
		runFor   time.Duration // how long the instance ran before failing
		wantWait time.Duration // how long the restart waits after the failure
		next     time.Duration // the back-off after the restart
	}
	steps := []step{
		{time.Second, 0, 10 * time.Second},
		{time.Second, 10 * time.Second, 20 * time.Second},
		{time.Second, 20 * time.Second, 40 * time.Second},
		{time.Second, 40 * time.Second, 80 * time.Second},
		{time.Second, 80 * time.Second, 160 * time.Second},
		{time.Second, 160 * time.Second, 5 * time.Minute},
		{time.Second, 5 * time.Minute, 5 * time.Minute},
		// Ran 11 minutes: the back-off starts over, restart at once.
		{11 * time.Minute, 0, 10 * time.Second},
		{time.Second, 10 * time.Second, 20 * time.Second},
	}
	now := t0
	for i, s := range steps {
		failedAt := now.Add(s.runFor)
		until, wait := bo.wait(e, failedAt, failedAt)
		got := time.Duration(0)
		if wait {
			got = until.Sub(failedAt)
		}
		if got != s.wantWait {
			t.Fatalf("step %d: waits %v, want %v", i, got, s.wantWait)
		}
		// Just before the end it still waits; at the end it does not.
		if wait {
			if _, still := bo.wait(e, failedAt, until.Add(-time.Millisecond)); !still {
				t.Errorf("step %d: stopped waiting early", i)
			}
			if _, still := bo.wait(e, failedAt, until); still {
				t.Errorf("step %d: still waiting at the end", i)
			}
		}
		e = bo.next(e, failedAt)
		if e.Delay != s.next {
			t.Fatalf("step %d: next delay %v, want %v", i, e.Delay, s.next)
		}
		now = failedAt.Add(got)
	}
}

func TestBackoffFirstFailureNoWait(t *testing.T) {
	now := time.Now()
	if _, wait := defaultBackoff.wait(backoffEntry{}, now, now); wait {
		t.Error("a container that never backed off must restart at once")
	}
	e := defaultBackoff.next(backoffEntry{}, now)
	if e.Delay != 10*time.Second || !e.LastUpdate.Equal(now) {
		t.Errorf("first entry %+v", e)
	}
}
