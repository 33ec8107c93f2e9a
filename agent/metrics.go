package agent

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gossipod/gossipod/api"
)

// metricsRegistry builds the agent's own Prometheus registry (no global
// state): Go and process metrics plus gauges read live from gossip and Raft
// at scrape time, so nothing needs updating on the hot paths.
func (a *Agent) metricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gossipod_raft_leader",
			Help: "1 if this agent is the Raft leader, else 0.",
		}, func() float64 {
			if a.store.IsLeader() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gossipod_raft_applied_index",
			Help: "Raft index of the last command applied to this agent's state.",
		}, func() float64 { return float64(a.store.State().Index()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gossipod_raft_term",
			Help: "Current Raft term as seen by this agent.",
		}, func() float64 {
			t, _ := strconv.ParseFloat(a.store.Stats()["term"], 64)
			return t
		}),
	)
	for _, s := range []api.MemberStatus{api.MemberAlive, api.MemberDead, api.MemberLeft} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "gossipod_members",
			Help:        "Gossip members known to this agent, by status.",
			ConstLabels: prometheus.Labels{"status": string(s)},
		}, func() float64 {
			n := 0
			for _, m := range a.members.List() {
				if m.Status == s {
					n++
				}
			}
			return float64(n)
		}))
	}
	return reg
}
