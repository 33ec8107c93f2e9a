package api

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TypeMeta is the kind and apiVersion every Kubernetes object and list
// carries, so a client can tell what it received without knowing which URL
// it asked.
type TypeMeta = metav1.TypeMeta

// ObjectMeta is the metadata of a stored object, Kubernetes' own type.
// Name, namespace, labels and annotations come from the user; uid,
// resourceVersion (the Raft index of the entry that last changed the
// object), generation and creationTimestamp are filled in by the cluster;
// deletionTimestamp and deletionGracePeriodSeconds mark a graceful
// deletion under way, and finalizers hold it (gossipod's only one is
// FinalizerForegroundDeletion, which the state machine adds and removes
// itself). The fields gossipod does not implement (generateName, selfLink,
// managedFields) are rejected by strict decoding: see kubernetesOnlyFields.
type ObjectMeta = metav1.ObjectMeta

// OwnerReference points from a dependent object (a ReplicaSet's pod, a
// Deployment's ReplicaSet) to the object that owns it, as in Kubernetes:
// deleting the owner deletes its dependents (garbage collection), unless
// the deletion orphans them. Controller marks the one owner that manages
// the dependent; BlockOwnerDeletion makes a foreground deletion of the
// owner wait until this dependent is gone.
type OwnerReference = metav1.OwnerReference

// ListMeta is the metadata of a list: the resourceVersion the list
// reflects, so a watch can start from it. gossipod does not page lists:
// continue and remainingItemCount are never set.
type ListMeta = metav1.ListMeta

// Time is a wall-clock instant serialised as RFC 3339 with second
// precision. The zero value marshals as null, so "not set" stays
// distinguishable from the epoch.
type Time = metav1.Time

// NewTime wraps t, truncated to seconds and in UTC as Kubernetes stores it:
// the state machine needs values that survive a JSON round trip unchanged,
// so that every replica holds the same object.
func NewTime(t time.Time) Time {
	return metav1.NewTime(t.UTC().Truncate(time.Second))
}
