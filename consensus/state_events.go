package consensus

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// maxEvents bounds the events the State keeps; the oldest go first.
// Kubernetes keeps events for an hour; a bound on their number serves the
// same purpose without a clock.
const maxEvents = 10000

// podEvent builds an event about a pod.
func podEvent(p *api.Pod, typ, reason, message, component, host string) api.Event {
	return api.Event{
		ObjectMeta:     api.ObjectMeta{Namespace: p.Namespace},
		InvolvedObject: api.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		Reason:         reason,
		Message:        message,
		Type:           typ,
		Source:         api.EventSource{Component: component, Host: host},
	}
}

// recordEvents stores events, aggregating repeats: an event about the same
// object with the same reason and message bumps the count and
// lastTimestamp of the stored one. The name is derived from that identity,
// so every replica names it the same.
func (s *State) recordEvents(index uint64, cmd Command, events []api.Event) {
	for seq, e := range events {
		if e.Namespace == "" {
			e.Namespace = e.InvolvedObject.Namespace
		}
		// The map key is the event's identity, for aggregation; the name
		// orders events by the log position that first recorded them, as
		// Kubernetes' time-based event names do.
		key := eventKey(&e)
		e.Kind, e.APIVersion = "Event", "v1"
		when := api.NewTime(cmd.Time)
		if !e.LastTimestamp.IsZero() {
			when = e.LastTimestamp
		}
		if old, ok := s.events[key]; ok {
			next := *old
			next.Count++
			next.LastTimestamp = when
			next.ResourceVersion = strconv.FormatUint(index, 10)
			s.events[key] = &next
			continue
		}
		e.Name = fmt.Sprintf("%s.%016x%04x", e.InvolvedObject.Name, index, seq)
		e.Count = max(e.Count, 1)
		if e.FirstTimestamp.IsZero() {
			e.FirstTimestamp = when
		}
		e.LastTimestamp = when
		e.CreationTimestamp = when
		e.ResourceVersion = strconv.FormatUint(index, 10)
		s.events[key] = &e
	}
	if len(s.events) > maxEvents {
		s.evictOldestEvents(len(s.events) - maxEvents)
	}
}

func (s *State) evictOldestEvents(n int) {
	keys := slices.Collect(maps.Keys(s.events))
	slices.SortFunc(keys, func(a, b string) int {
		ea, eb := s.events[a], s.events[b]
		if c := ea.LastTimestamp.Compare(eb.LastTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, k := range keys[:n] {
		delete(s.events, k)
	}
}

// EventsFor returns the events about the object with the given uid, oldest
// first. The events are shared: do not modify them.
func (s *State) EventsFor(uid types.UID) []*api.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.Event
	for _, e := range s.events {
		if e.InvolvedObject.UID == uid {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *api.Event) int {
		return cmp.Compare(a.Name, b.Name) // names order by first record
	})
	return out
}

// eventKey is an event's identity for aggregation: the object, reason
// and message.
func eventKey(e *api.Event) string {
	sum := sha256.Sum256([]byte(string(e.InvolvedObject.UID) + "\x00" + e.Reason + "\x00" + e.Message))
	return e.Namespace + "/" + hex.EncodeToString(sum[:12])
}

// Events returns all events, sorted by namespace and name.
func (s *State) Events() []*api.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sortedEvents()
}

// sortedEvents is Events for callers that hold the lock.
func (s *State) sortedEvents() []*api.Event {
	out := make([]*api.Event, 0, len(s.events))
	for _, e := range s.events {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *api.Event) int {
		if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}
