package api

import "time"

// TypeMeta is the kind and apiVersion every Kubernetes object and list carries,
// so a client can tell what it received without knowing which URL it asked.
type TypeMeta struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// ObjectMeta is the metadata of a stored object. Name, namespace, labels and
// annotations come from the user; uid, resourceVersion and creationTimestamp
// are filled in by the cluster (resourceVersion is the Raft index of the entry
// that last changed the object).
type ObjectMeta struct {
	Name              string `json:"name,omitempty"`
	Namespace         string `json:"namespace,omitempty"`
	UID               string `json:"uid,omitempty"`
	ResourceVersion   string `json:"resourceVersion,omitempty"`
	Generation        int64  `json:"generation,omitempty"`
	CreationTimestamp Time   `json:"creationTimestamp,omitempty"`
	// DeletionTimestamp is set when a graceful deletion starts: the object
	// is Terminating and goes away once its node confirms it stopped.
	DeletionTimestamp          *Time             `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string `json:"labels,omitempty"`
	Annotations                map[string]string `json:"annotations,omitempty"`
	OwnerReferences            []OwnerReference  `json:"ownerReferences,omitempty"`
	// Finalizers hold a deleted object (deletionTimestamp set) until they
	// are removed; gossipod's only one is FinalizerForegroundDeletion,
	// which the state machine adds and removes itself.
	Finalizers []string `json:"finalizers,omitempty"`
}

// OwnerReference points from a dependent object (a ReplicaSet's pod, a
// Deployment's ReplicaSet) to the object that owns it, as in Kubernetes:
// deleting the owner deletes its dependents (garbage collection), unless
// the deletion orphans them.
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	// Controller marks the one owner that manages the dependent.
	Controller *bool `json:"controller,omitempty"`
	// BlockOwnerDeletion makes a foreground deletion of the owner wait
	// until this dependent is gone; controllers set it on what they create.
	BlockOwnerDeletion *bool `json:"blockOwnerDeletion,omitempty"`
}

// ListMeta is the metadata of a list: the resourceVersion the list reflects,
// so a watch can start from it.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// Time is a wall-clock instant serialised as RFC 3339 with second precision,
// like metav1.Time. The zero value marshals as null, so "not set" stays
// distinguishable from the epoch.
type Time struct {
	time.Time
}

// NewTime wraps t, truncated to seconds as Kubernetes stores it.
func NewTime(t time.Time) Time {
	return Time{t.UTC().Truncate(time.Second)}
}

// MarshalJSON writes RFC 3339, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(time.RFC3339) + `"`), nil
}

// UnmarshalJSON reads RFC 3339 or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return &time.ParseError{Layout: time.RFC3339, Value: s, Message: ": not a JSON string"}
	}
	parsed, err := time.Parse(time.RFC3339, s[1:len(s)-1])
	if err != nil {
		return err
	}
	t.Time = parsed.Local()
	return nil
}
