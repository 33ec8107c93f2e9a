package netlinkutil

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/internal/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// privateNetNS returns a handle to a new, unnamed network namespace; it is
// gone once the handle (closed in Cleanup) and the handles opened in it are.
func privateNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	type result struct {
		ns  netns.NsHandle
		err error
	}
	c := make(chan result, 1)
	go func() {
		// Never unlocked: the thread, now in the new namespace, ends with the
		// goroutine, so no other goroutine runs there.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			c <- result{err: fmt.Errorf("unshare network namespace: %w", err)}
			return
		}
		ns, err := netns.Get()
		c <- result{ns, err}
	}()
	r := <-c
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.ns.Close() })
	return r.ns
}

func handleAt(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Delete)
	return h
}

// While another goroutine adds and deletes a link, Retry(LinkList) returns
// every link, without error, although single dumps are interrupted.
//
// The churn is in lockstep with the lister: before each Retry the lister
// allows changesPerCall changes, made concurrently with the Retry, and it
// waits for them after. So no Retry overlaps more than changesPerCall <
// Attempts changes, and each change interrupts at most one dump: the Retry
// must succeed, whatever the timing. What timing decides is only how many
// dumps are interrupted; the test runs until it has seen enough of them
// (bounded by maxCalls) so that it shows the retry at work.
func TestRetryOutlastsLinkChurn(t *testing.T) {
	testenv.NeedRoot(t)
	const (
		// Enough links that one dump spans many messages: the kernel marks
		// a dump interrupted when the table changed between two of its
		// parts. Bridges, not dummies: pods need the bridge module anyway.
		links          = 150
		changesPerCall = 3
		minCalls       = 50
		wantInterrupts = 5
		maxCalls       = 20000
	)
	ns := privateNetNS(t)
	churner, lister := handleAt(t, ns), handleAt(t, ns)
	for i := range links {
		if err := churner.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("still%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}

	tokens := make(chan struct{}, changesPerCall)
	acks := make(chan error, changesPerCall)
	go func() {
		churn := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "churn"}}
		up := false
		for range tokens {
			var err error
			if up {
				err = churner.LinkDel(churn)
			} else {
				err = churner.LinkAdd(churn)
			}
			up = !up
			acks <- err
		}
	}()
	defer close(tokens)

	var attempts, interrupts, calls int
	dump := func() ([]netlink.Link, error) {
		attempts++
		ls, err := lister.LinkList()
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			interrupts++
		}
		return ls, err
	}
	start := time.Now()
	for calls < minCalls || interrupts < wantInterrupts {
		if calls == maxCalls {
			t.Fatalf("%d Retry calls (%d dumps) with %d link changes each saw only %d interrupted dumps, want %d: "+
				"the test did not exercise the retry", calls, attempts, changesPerCall, interrupts, wantInterrupts)
		}
		calls++
		for range changesPerCall {
			tokens <- struct{}{}
		}
		ls, err := Retry(dump)
		for range changesPerCall {
			if err := <-acks; err != nil {
				t.Fatalf("link change: %v", err)
			}
		}
		if err != nil {
			t.Fatalf("Retry(LinkList), call %d: %v", calls, err)
		}
		still := 0
		for _, l := range ls {
			if strings.HasPrefix(l.Attrs().Name, "still") {
				still++
			}
		}
		if still != links {
			t.Fatalf("Retry(LinkList), call %d: %d of the %d unchanged links, want all", calls, still, links)
		}
	}
	t.Logf("%d Retry calls, %d dumps, %d of them interrupted, in %v", calls, attempts, interrupts, time.Since(start).Round(time.Millisecond))
}
