package placement

import (
	"errors"
	"fmt"
)

// Strategy chooses how resource usage ranks the nodes that fit.
type Strategy string

const (
	// StrategySpread prefers the least-allocated node, so load and the
	// blast radius of a node loss stay even. It is the default.
	StrategySpread Strategy = "spread"
	// StrategyBinpack prefers the most-allocated node, so pods fill a few
	// nodes and the rest stay empty (cheaper, or ready for large pods).
	StrategyBinpack Strategy = "binpack"
)

// Config tunes Place. The zero value works and means DefaultConfig.
type Config struct {
	// Strategy is spread (least-allocated, the default when empty) or
	// binpack (most-allocated).
	Strategy Strategy
	// PercentageOfNodesToScore limits how many feasible nodes are looked
	// for before picking, as a percentage of all nodes. 0 is adaptive, as
	// in kube-scheduler: 50% minus one point per 125 nodes, at least 5%.
	// 100 scores every node.
	PercentageOfNodesToScore int
	// MinFeasibleNodesToFind is the least number of feasible nodes to find
	// before the scan may stop (kube-scheduler's minFeasibleNodesToFind).
	// Clusters smaller than this are always scanned whole. 0 means 100.
	MinFeasibleNodesToFind int
}

// The defaults, named so that callers and docs can refer to them.
const (
	// DefaultMinFeasibleNodesToFind is kube-scheduler's value: below 100
	// nodes sampling saves nothing worth the worse choice.
	DefaultMinFeasibleNodesToFind = 100
	// minAdaptivePercentage is kube-scheduler's floor for the adaptive
	// percentage (minFeasibleNodesPercentageToFind).
	minAdaptivePercentage = 5
)

// DefaultConfig spreads pods over the least-allocated nodes and samples
// adaptively, like kube-scheduler's defaults.
func DefaultConfig() Config {
	return Config{
		Strategy:                 StrategySpread,
		PercentageOfNodesToScore: 0,
		MinFeasibleNodesToFind:   DefaultMinFeasibleNodesToFind,
	}
}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid placement config")

// Validate reports every field that is out of range, each by name. The
// leader calls it once at start-up; Place itself never fails and treats
// out-of-range values as documented on withDefaults.
func (c Config) Validate() error {
	var errs []error
	switch c.Strategy {
	case "", StrategySpread, StrategyBinpack:
	default:
		errs = append(errs, fmt.Errorf("%w: Strategy: %q is not %q or %q",
			ErrInvalidConfig, c.Strategy, StrategySpread, StrategyBinpack))
	}
	if c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100 {
		errs = append(errs, fmt.Errorf("%w: PercentageOfNodesToScore: %d is not in 0..100",
			ErrInvalidConfig, c.PercentageOfNodesToScore))
	}
	if c.MinFeasibleNodesToFind < 0 {
		errs = append(errs, fmt.Errorf("%w: MinFeasibleNodesToFind: %d is negative",
			ErrInvalidConfig, c.MinFeasibleNodesToFind))
	}
	return errors.Join(errs...)
}

// withDefaults fills in zero fields and clamps what Validate would reject,
// so that Place always has a usable config: an unknown strategy spreads, a
// percentage above 100 scores all nodes, a negative one is adaptive.
func (c Config) withDefaults() Config {
	if c.Strategy != StrategyBinpack {
		c.Strategy = StrategySpread
	}
	if c.PercentageOfNodesToScore < 0 {
		c.PercentageOfNodesToScore = 0
	}
	if c.PercentageOfNodesToScore > 100 {
		c.PercentageOfNodesToScore = 100
	}
	if c.MinFeasibleNodesToFind <= 0 {
		c.MinFeasibleNodesToFind = DefaultMinFeasibleNodesToFind
	}
	return c
}
