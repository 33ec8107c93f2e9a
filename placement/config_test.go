package placement

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg   Config
		names []string // fields the error must name; none = valid
	}{
		{DefaultConfig(), nil},
		{Config{}, nil},
		{Config{Strategy: StrategyBinpack, PercentageOfNodesToScore: 100, MinFeasibleNodesToFind: 1}, nil},
		{Config{Strategy: "pack"}, []string{"Strategy"}},
		{Config{PercentageOfNodesToScore: 101}, []string{"PercentageOfNodesToScore"}},
		{Config{PercentageOfNodesToScore: -1, MinFeasibleNodesToFind: -5, Strategy: "x"},
			[]string{"Strategy", "PercentageOfNodesToScore", "MinFeasibleNodesToFind"}},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if len(tt.names) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", tt.cfg, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: error %v is not ErrInvalidConfig", tt.cfg, err)
			continue
		}
		for _, n := range tt.names {
			if !strings.Contains(err.Error(), n+":") {
				t.Errorf("%+v: error %q does not name %s", tt.cfg, err, n)
			}
		}
	}
}

// TestConfigWithDefaults: Place never fails on a bad config; it uses the
// documented fallbacks.
func TestConfigWithDefaults(t *testing.T) {
	got := Config{Strategy: "pack", PercentageOfNodesToScore: 300, MinFeasibleNodesToFind: -1}.withDefaults()
	want := Config{Strategy: StrategySpread, PercentageOfNodesToScore: 100, MinFeasibleNodesToFind: DefaultMinFeasibleNodesToFind}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if d := DefaultConfig(); d != (Config{}).withDefaults() {
		t.Errorf("DefaultConfig %+v differs from the zero config's defaults", d)
	}
}
