package agent

import (
	"context"
	"net"
	"strconv"
	"time"
)

// joinLoop joins the cluster through the --join seeds and retries until one
// answers, like Consul's retry-join: agents can then be started in any
// order. It returns once joined or when ctx ends.
func (a *Agent) joinLoop(ctx context.Context) {
	if len(a.cfg.Join) == 0 {
		return
	}
	var seeds []string
	for _, j := range a.cfg.Join {
		host, port, _ := splitJoinAddr(j, a.cfg.GossipPort) // validated in Config.Validate
		seeds = append(seeds, net.JoinHostPort(host, strconv.Itoa(port)))
	}
	for attempt := 1; ; attempt++ {
		n, err := a.ml.Join(seeds)
		if n > 0 {
			a.log.Info("joined cluster", "seeds", seeds, "contacted", n, "members", a.ml.NumMembers())
			return
		}
		a.log.Warn("join failed, will retry", "seeds", seeds, "attempt", attempt, "retry_in", a.cfg.RetryJoinInterval, "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.cfg.RetryJoinInterval):
		}
	}
}
