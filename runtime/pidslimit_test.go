package runtime

import (
	"strings"
	"testing"
)

// PodPidsLimit is -1 (none) or positive; the runtime refuses anything
// else at start, naming the field.
func TestConfigPodPidsLimit(t *testing.T) {
	for _, tc := range []struct {
		limit int64
		ok    bool
	}{
		{DefaultPodPidsLimit, true},
		{1, true},
		{1 << 22, true},
		{NoPodPidsLimit, true},
		{0, false},
		{-2, false},
	} {
		c := DefaultConfig()
		c.NodeName = "n1"
		c.PodPidsLimit = tc.limit
		err := c.Validate()
		if tc.ok && err != nil {
			t.Errorf("PodPidsLimit %d: %v", tc.limit, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "PodPidsLimit")) {
			t.Errorf("PodPidsLimit %d: error %v, want one naming PodPidsLimit", tc.limit, err)
		}
	}
	if DefaultConfig().PodPidsLimit != 4096 {
		t.Errorf("default PodPidsLimit %d, want 4096 (README, --pod-pids-limit)", DefaultConfig().PodPidsLimit)
	}
}
