package chaos

import (
	"fmt"
	"sort"
	"strconv"
	"time"
)

// AnnotationValue is the annotation the clients' writes set to their Op's
// Value, so the final object tells which write it shows.
const AnnotationValue = "chaos.gossipod.io/value"

// FinalObject is one object as read after the faults healed, keyed in the
// map the checkers take by Key(resource, namespace, name).
type FinalObject struct {
	// Exists is false for an object that is not there (a 404).
	Exists bool `json:"exists"`
	// Terminating is true for an object being deleted (deletionTimestamp
	// set): an acknowledged delete of it has taken effect.
	Terminating bool   `json:"terminating,omitempty"`
	UID         string `json:"uid,omitempty"`
	// Value is the object's AnnotationValue.
	Value string `json:"value,omitempty"`
	// Replicas and ReadyReplicas are a Deployment's spec.replicas and
	// status.readyReplicas.
	Replicas      int32 `json:"replicas,omitempty"`
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// ConvergedAfter is, for a Deployment, how long after the last heal the
	// harness first saw readyReplicas == spec.replicas (and kept seeing it
	// until the final read); negative when it never did.
	ConvergedAfter time.Duration `json:"convergedAfter,omitempty"`
}

// Key is the key of an object in the final state: "resource/namespace/name",
// e.g. "deployments/chaos/web-3".
func Key(resource, namespace, name string) string {
	return resource + "/" + namespace + "/" + name
}

// The invariants CheckHistory and CheckConvergence check, as Violation
// names them.
const (
	// InvLostWrite: an acknowledged create, update or scale is neither in
	// the final state nor superseded by a write that may have come after it.
	InvLostWrite = "lost-write"
	// InvResurrected: an object whose delete was acknowledged is there
	// again, and no create that may have come after the delete explains it.
	InvResurrected = "resurrected"
	// InvPhantomValue: the final object shows a value no write set.
	InvPhantomValue = "phantom-value"
	// InvFailedWriteVisible: the final object shows a value only a write
	// that failed set.
	InvFailedWriteVisible = "failed-write-visible"
	// InvNotConverged: a Deployment did not reach its replicas, ready,
	// within the bound after the last heal.
	InvNotConverged = "not-converged"
)

// field is one thing a write sets on an object: its value annotation or
// its replica count.
type field struct {
	name string
	// of returns what op sets, and whether it sets this field at all.
	of func(op *Op) (string, bool)
	// final is the final object's.
	final func(f FinalObject) string
	// applies reports whether the field exists on objects of resource.
	applies func(resource string) bool
}

var fields = []field{
	{
		name: "value",
		of: func(op *Op) (string, bool) {
			return op.Value, (op.Verb == "create" || op.Verb == "update") && op.Value != ""
		},
		final:   func(f FinalObject) string { return f.Value },
		applies: func(string) bool { return true },
	},
	{
		name: "replicas",
		of: func(op *Op) (string, bool) {
			switch {
			case op.Verb == "scale":
				return op.Value, true
			case op.Replicas != nil && (op.Verb == "create" || op.Verb == "update"):
				return strconv.Itoa(int(*op.Replicas)), true
			case op.Verb == "create":
				return "1", true // Kubernetes' default
			}
			return "", false
		},
		final:   func(f FinalObject) string { return strconv.Itoa(int(f.Replicas)) },
		applies: func(resource string) bool { return resource == "deployments" },
	},
}

// mayFollow reports whether a could have taken effect after b began: an
// acknowledged a unless it ended before b started; an unknown a always, as
// a request the client gave up on may still be committed long after.
func mayFollow(a, b *Op) bool {
	switch a.Outcome {
	case Failed:
		return false
	case Unknown:
		return true
	}
	return !a.End.Before(b.Start)
}

// CheckHistory judges the clients' operations against the objects read
// after the faults healed (final, by Key; an object absent from the map
// does not exist). Operations overlap in time: two writes whose
// [Start, End] overlap may have taken effect in either order, and a write
// whose outcome is Unknown may have taken effect at any time after its
// Start, or never. Failed writes never took effect (the harness must call
// Failed only a definite refusal: a 4xx, or a 5xx the API sends before
// committing). So:
//   - an acknowledged create, update or scale shows in the final object, or
//     a write that may have followed it set what the object shows instead
//     (or deleted it, if it is gone) — else lost-write;
//   - an object whose delete was acknowledged is gone (or terminating), or
//     a create that may have followed the delete explains it — else
//     resurrected; the deleted uid itself back is always resurrected;
//   - what the final object shows was set by a write that may have taken
//     effect — else phantom-value, or failed-write-visible when only a
//     failed write set it.
//
// Values are told apart by the Op's Value (a fresh marker per write); a
// scale must change spec.replicas alone (the /scale subresource or a patch),
// not PUT back an object read earlier. Keys no operation touched (the pods
// of Deployments) are not judged.
func CheckHistory(ops []Op, final map[string]FinalObject) []Violation {
	byKey := map[string][]*Op{}
	for i := range ops {
		op := &ops[i]
		k := Key(op.Resource, op.Namespace, op.Name)
		byKey[k] = append(byKey[k], op)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Violation
	for _, k := range keys {
		kops := byKey[k]
		sort.SliceStable(kops, func(i, j int) bool { return kops[i].Start.Before(kops[j].Start) })
		out = append(out, checkKey(k, kops, final[k])...)
	}
	return out
}

// checkKey applies CheckHistory's rules to the operations on one key.
func checkKey(key string, ops []*Op, fin FinalObject) []Violation {
	var out []Violation
	live := fin.Exists && !fin.Terminating
	resource := ops[0].Resource
	for _, f := range fields {
		if !f.applies(resource) {
			continue
		}
		finalVal := f.final(fin)
		for _, w := range ops {
			val, sets := f.of(w)
			if !sets || w.Outcome != OK {
				continue
			}
			if fin.Exists && finalVal == val {
				continue
			}
			var explained bool
			for _, o := range ops {
				if o == w || !mayFollow(o, w) {
					continue
				}
				if ov, osets := f.of(o); fin.Exists && osets && ov == finalVal {
					explained = true
				}
				if !fin.Exists && o.Verb == "delete" {
					explained = true
				}
			}
			if !explained {
				out = append(out, Violation{
					Invariant: InvLostWrite,
					Detail: fmt.Sprintf("%s: the acknowledged %s set %s %q, the final object %s, and no write that may have followed it explains that",
						key, w.Verb, f.name, val, describeFinal(fin, f)),
					Ops: derefOps(ops),
				})
			}
		}
		if fin.Exists {
			out = append(out, checkFinalValue(key, ops, fin, f)...)
		}
	}
	for _, d := range ops {
		if d.Verb != "delete" || d.Outcome != OK || !fin.Exists {
			continue
		}
		if d.UID != "" && d.UID == fin.UID && !fin.Terminating {
			out = append(out, Violation{
				Invariant: InvResurrected,
				Detail:    fmt.Sprintf("%s: the acknowledged delete of uid %s, yet the final object has that uid", key, d.UID),
				Ops:       derefOps(ops),
			})
			continue
		}
		if !live {
			continue
		}
		var explained bool
		for _, c := range ops {
			if c.Verb == "create" && mayFollow(c, d) {
				explained = true
			}
		}
		if !explained {
			out = append(out, Violation{
				Invariant: InvResurrected,
				Detail:    fmt.Sprintf("%s: deleted (acknowledged), the final object exists (uid %s) and no create may have followed the delete", key, fin.UID),
				Ops:       derefOps(ops),
			})
		}
	}
	return out
}

// checkFinalValue checks that what the final object shows of f was set by
// a write that may have taken effect.
func checkFinalValue(key string, ops []*Op, fin FinalObject, f field) []Violation {
	finalVal := f.final(fin)
	var failedOnly bool
	for _, w := range ops {
		val, sets := f.of(w)
		if !sets || val != finalVal {
			continue
		}
		if w.Outcome != Failed {
			return nil
		}
		failedOnly = true
	}
	if failedOnly {
		return []Violation{{
			Invariant: InvFailedWriteVisible,
			Detail:    fmt.Sprintf("%s: the final object shows %s %q, which only a failed write set", key, f.name, finalVal),
			Ops:       derefOps(ops),
		}}
	}
	return []Violation{{
		Invariant: InvPhantomValue,
		Detail:    fmt.Sprintf("%s: the final object shows %s %q, which no write set", key, f.name, finalVal),
		Ops:       derefOps(ops),
	}}
}

// describeFinal says what the final object shows of f.
func describeFinal(fin FinalObject, f field) string {
	switch {
	case !fin.Exists:
		return "does not exist"
	case fin.Terminating:
		return fmt.Sprintf("is terminating with %s %q", f.name, f.final(fin))
	}
	return fmt.Sprintf("has %s %q", f.name, f.final(fin))
}

func derefOps(ops []*Op) []Op {
	out := make([]Op, len(ops))
	for i, op := range ops {
		out[i] = *op
	}
	return out
}

// CheckConvergence judges each Deployment of the final state: it must have
// all its replicas ready, and have reached that within bound of the last
// heal (FinalObject.ConvergedAfter, which the harness measures). It also
// returns the longest time a Deployment took, for the run's report.
func CheckConvergence(final map[string]FinalObject, bound time.Duration) ([]Violation, time.Duration) {
	keys := make([]string, 0, len(final))
	for k, f := range final {
		if f.Exists && !f.Terminating && len(k) > len("deployments/") && k[:len("deployments/")] == "deployments/" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Violation
	var longest time.Duration
	for _, k := range keys {
		f := final[k]
		switch {
		case f.ReadyReplicas != f.Replicas:
			out = append(out, Violation{Invariant: InvNotConverged,
				Detail: fmt.Sprintf("%s: %d of %d replicas ready at the final read", k, f.ReadyReplicas, f.Replicas)})
		case f.ConvergedAfter < 0:
			out = append(out, Violation{Invariant: InvNotConverged,
				Detail: fmt.Sprintf("%s: never seen with all %d replicas ready after the last heal", k, f.Replicas)})
		case f.ConvergedAfter > bound:
			out = append(out, Violation{Invariant: InvNotConverged,
				Detail: fmt.Sprintf("%s: all %d replicas ready %s after the last heal, more than the %s allowed", k, f.Replicas, f.ConvergedAfter, bound)})
		}
		longest = max(longest, f.ConvergedAfter)
	}
	return out, longest
}
