// Package controllers holds the leader's reconcile loops that manage
// workloads: the Deployment controller, which keeps one ReplicaSet per pod
// template of a Deployment and rolls a new template out by scaling them
// (RollingUpdate within maxSurge and maxUnavailable, or Recreate), and the
// ReplicaSet controller, which keeps each ReplicaSet's pods at its
// replicas. They follow kube-controller-manager's pkg/controller/deployment
// and pkg/controller/replicaset.
//
// A controller reads the committed state through State and changes it only
// by committing commands through Committer; it does no other I/O. Each
// pass plans first, with pure functions over what it read (which the tests
// drive directly), then commits the plan in order. Every change goes
// through the Raft log, and the state machine checks each command again,
// so a pass acting on a stale view is refused rather than obeyed.
//
// Garbage collection (deleting a Deployment deletes its ReplicaSets and
// their pods) is not here: the state machine does it in the same log entry
// as the deletion.
package controllers
