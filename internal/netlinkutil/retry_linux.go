package netlinkutil

import (
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
)

// Attempts is how many times Retry dumps before it gives up: enough to ride
// out a burst of concurrent changes (each interrupts at most the dumps it
// overlaps), few enough that a table changing without pause still returns an
// error within about a tenth of a second instead of spinning.
const Attempts = 10

// firstBackoff is the pause before the second attempt; it doubles for each
// further one, up to maxBackoff, giving a burst of changes time to end. The
// worst case, 9 pauses, adds up to about 90 ms.
const (
	firstBackoff = 500 * time.Microsecond
	maxBackoff   = 20 * time.Millisecond
)

// sleep is time.Sleep; tests replace it to count the waits.
var sleep = time.Sleep

// Retry calls dump until it returns anything but netlink.ErrDumpInterrupted,
// at most Attempts times, with a short growing pause between attempts, and
// returns that result. If every attempt was interrupted it returns the last
// (possibly incomplete) result with an error that still matches
// netlink.ErrDumpInterrupted with errors.Is.
//
// dump must be safe to repeat: a list, or a list-and-act that skips what an
// earlier attempt already did. Typical use:
//
//	links, err := netlinkutil.Retry(netlink.LinkList)
//	routes, err := netlinkutil.Retry(func() ([]netlink.Route, error) {
//		return netlink.RouteListFiltered(family, filter, mask)
//	})
func Retry[T any](dump func() (T, error)) (T, error) {
	return RetryN(Attempts, dump)
}

// RetryN is Retry with at most attempts attempts (at least one), for a dump
// too costly to repeat Attempts times: netlink's ConntrackDeleteFilters dumps
// the whole conntrack table, which may hold millions of entries.
func RetryN[T any](attempts int, dump func() (T, error)) (T, error) {
	wait := firstBackoff
	for attempt := 1; ; attempt++ {
		v, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
		if attempt >= attempts {
			return v, fmt.Errorf("netlink dump interrupted by concurrent changes %d times in a row: %w", attempt, err)
		}
		sleep(wait)
		wait = min(2*wait, maxBackoff)
	}
}
