// Package chaos holds what a fault run records and the checker that judges it.
// The run itself (hosts, agents, nemesis, clients) is the e2e package's
// TestChaos; this package knows nothing of how faults are made, so the checker
// can be tested on histories and Raft logs built by hand, and a failed run can
// be judged again from its saved files.
package chaos

import "time"

// Outcome is what a client learnt of one request. Unknown is a timeout or a
// broken connection: the write may or may not have been committed, so the
// checker must accept both.
type Outcome string

// The outcomes a request can have.
const (
	OK      Outcome = "ok"
	Failed  Outcome = "failed"
	Unknown Outcome = "unknown"
)

// Op is one client request and its outcome, as the client saw it.
type Op struct {
	// Client numbers the client goroutine; Agent the host whose API it called.
	Client int `json:"client"`
	Agent  int `json:"agent"`
	// Verb is create, update, scale or delete; Resource is pods or deployments.
	Verb      string `json:"verb"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Value is the marker the write set (the chaos.gossipod.io/value annotation
	// of a create or update, the replica count of a scale), so the checker can
	// tell which write the final object shows. Every write should set a
	// value no other write sets: the checker tells writes apart by it.
	Value string `json:"value,omitempty"`
	// Replicas is the spec.replicas a create or update of a Deployment set
	// (nil: a create leaves Kubernetes' default, 1; an update keeps it); a
	// scale's count is its Value.
	Replicas *int32 `json:"replicas,omitempty"`
	// UID and ResourceVersion are those of the object the response carried.
	UID             string    `json:"uid,omitempty"`
	ResourceVersion string    `json:"resourceVersion,omitempty"`
	Start           time.Time `json:"start"`
	End             time.Time `json:"end"`
	Outcome         Outcome   `json:"outcome"`
	// Status is the HTTP status (0 when none came back); Err the error text.
	Status int    `json:"status,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Fault is one action of the nemesis, from its start to its heal.
type Fault struct {
	// Kind is kill, pause, partition, netem, pod-restart or clock-skew; Hosts
	// the hosts it touched; Detail says how (which side of a partition...).
	Kind   string    `json:"kind"`
	Hosts  []int     `json:"hosts"`
	Detail string    `json:"detail,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Violation is one broken invariant, with what proves it: the operations and
// log entries (as "host/index: text") involved.
type Violation struct {
	Invariant string   `json:"invariant"`
	Detail    string   `json:"detail"`
	Ops       []Op     `json:"ops,omitempty"`
	Entries   []string `json:"entries,omitempty"`
}
