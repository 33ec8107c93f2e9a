package apiserver

import (
	"testing"
	"time"
)

// TestNextBookmark is the bookmark schedule of kube-apiserver's
// cacheWatcher: every interval, or two seconds before the watch's end if
// that is sooner, and none once that moment has passed.
func TestNextBookmark(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		deadline time.Time
		want     time.Time
		ok       bool
	}{
		{"no deadline", time.Time{}, now.Add(time.Minute), true},
		{"deadline far", now.Add(10 * time.Minute), now.Add(time.Minute), true},
		{"deadline soon", now.Add(30 * time.Second), now.Add(28 * time.Second), true},
		{"two seconds left", now.Add(2 * time.Second), now, true},
		{"past the pre-timeout bookmark", now.Add(time.Second), time.Time{}, false},
	} {
		got, ok := nextBookmark(now, time.Minute, tc.deadline)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: nextBookmark = %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
