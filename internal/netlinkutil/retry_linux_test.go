package netlinkutil

import (
	"errors"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeDump returns netlink.ErrDumpInterrupted (with a partial result) for its
// first interrupted calls, then final; calls counts them.
type fakeDump struct {
	interrupted int
	final       error
	calls       int
}

func (f *fakeDump) dump() (int, error) {
	f.calls++
	if f.calls <= f.interrupted {
		return -f.calls, netlink.ErrDumpInterrupted
	}
	return f.calls, f.final
}

// noSleep replaces sleep for the test and returns the waits it was asked for.
func noSleep(t *testing.T) *[]time.Duration {
	var waits []time.Duration
	old := sleep
	sleep = func(d time.Duration) { waits = append(waits, d) }
	t.Cleanup(func() { sleep = old })
	return &waits
}

func TestRetryAfterInterruptions(t *testing.T) {
	waits := noSleep(t)
	f := &fakeDump{interrupted: Attempts - 1}
	v, err := Retry(f.dump)
	if err != nil || v != Attempts || f.calls != Attempts {
		t.Fatalf("Retry = %d, %v after %d calls; want %d, nil after %d", v, err, f.calls, Attempts, Attempts)
	}
	if len(*waits) != Attempts-1 {
		t.Fatalf("waited %d times, want %d (between attempts only)", len(*waits), Attempts-1)
	}
	var total time.Duration
	for i, w := range *waits {
		if w <= 0 || w > maxBackoff || (i > 0 && w < (*waits)[i-1]) {
			t.Fatalf("waits %v: want positive, growing, at most %v", *waits, maxBackoff)
		}
		total += w
	}
	if total > 100*time.Millisecond {
		t.Fatalf("waits %v add up to %v; a retry must stay short", *waits, total)
	}
}

func TestRetryGivesUp(t *testing.T) {
	noSleep(t)
	f := &fakeDump{interrupted: 1 << 30}
	v, err := Retry(f.dump)
	if !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatalf("error %v does not match netlink.ErrDumpInterrupted", err)
	}
	if f.calls != Attempts || v != -Attempts {
		t.Fatalf("gave up after %d calls with %d; want %d calls and the last partial result %d", f.calls, v, Attempts, -Attempts)
	}

	f = &fakeDump{interrupted: 1 << 30}
	if _, err := RetryN(3, f.dump); !errors.Is(err, netlink.ErrDumpInterrupted) || f.calls != 3 {
		t.Fatalf("RetryN(3): %v after %d calls, want ErrDumpInterrupted after 3", err, f.calls)
	}
	f = &fakeDump{interrupted: 1 << 30}
	if _, err := RetryN(0, f.dump); !errors.Is(err, netlink.ErrDumpInterrupted) || f.calls != 1 {
		t.Fatalf("RetryN(0): %v after %d calls, want ErrDumpInterrupted after 1", err, f.calls)
	}
}

func TestRetryPassesOtherErrorsAtOnce(t *testing.T) {
	waits := noSleep(t)
	f := &fakeDump{final: unix.EPERM}
	if _, err := Retry(f.dump); err != unix.EPERM || f.calls != 1 || len(*waits) != 0 {
		t.Fatalf("Retry = %v after %d calls and %d waits; want EPERM unchanged after 1 call, no wait", err, f.calls, len(*waits))
	}
	f = &fakeDump{interrupted: 2, final: unix.ENODEV}
	if _, err := Retry(f.dump); err != unix.ENODEV || f.calls != 3 {
		t.Fatalf("Retry = %v after %d calls; want ENODEV unchanged after 3", err, f.calls)
	}
}
