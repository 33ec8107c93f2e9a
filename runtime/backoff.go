package runtime

import "time"

// backoffPolicy is kubelet's restart back-off (its flowcontrol.Backoff as
// the kubelet configures it): a failed container is restarted at once the
// first time, then after Initial, doubling up to Max; a container that
// ran longer than Reset before failing starts over at once. The same
// policy, keyed by image instead of container, paces image pulls after a
// failure (ImagePullBackOff).
type backoffPolicy struct {
	Initial time.Duration
	Max     time.Duration
	// Reset is how long after the previous back-off step an event must come
	// for the back-off to start over; kubelet's is 2 × Max (10 minutes).
	Reset time.Duration
}

// defaultBackoff is kubelet's: 10 s doubling to 5 min, reset after 10 min.
var defaultBackoff = backoffPolicy{Initial: 10 * time.Second, Max: 5 * time.Minute, Reset: 10 * time.Minute}

// backoffEntry is the back-off state of one key (a container, or an image
// of a pod). It is persisted with the pod record, so an agent restart does
// not turn a crash loop into a hot loop.
type backoffEntry struct {
	// Delay is the current step; zero means no back-off yet.
	Delay time.Duration `json:"delay,omitempty"`
	// LastUpdate is the time of the event that set Delay.
	LastUpdate time.Time `json:"lastUpdate,omitzero"`
}

// expired reports whether an event at eventTime comes so long after the
// last step that the back-off starts over.
func (p backoffPolicy) expired(e backoffEntry, eventTime time.Time) bool {
	return e.Delay == 0 || eventTime.Sub(e.LastUpdate) > p.Reset
}

// wait reports whether a restart for a failure at eventTime must still wait
// at now, and until when. It is kubelet's IsInBackOffSince.
func (p backoffPolicy) wait(e backoffEntry, eventTime, now time.Time) (time.Time, bool) {
	if p.expired(e, now) {
		return time.Time{}, false
	}
	until := eventTime.Add(e.Delay)
	return until, now.Before(until)
}

// next is the entry after a restart (or a pull attempt) for a failure at
// eventTime: the first step, or the current one doubled up to Max. It is
// kubelet's Backoff.Next.
func (p backoffPolicy) next(e backoffEntry, eventTime time.Time) backoffEntry {
	if p.expired(e, eventTime) {
		return backoffEntry{Delay: p.Initial, LastUpdate: eventTime}
	}
	return backoffEntry{Delay: min(2*e.Delay, p.Max), LastUpdate: eventTime}
}
