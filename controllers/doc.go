// Package controllers holds the leader's reconcile loops, each following
// its kube-controller-manager (or kube-scheduler) counterpart:
//   - Scheduler places pending pods, whole, on nodes (kube-scheduler), with
//     the placement package's filters and scores;
//   - Apps: the Deployment controller, which keeps one ReplicaSet per pod
//     template of a Deployment and rolls a new template out by scaling
//     them (RollingUpdate within maxSurge and maxUnavailable, or
//     Recreate), and the ReplicaSet controller, which keeps each
//     ReplicaSet's pods at its replicas (pkg/controller/deployment and
//     pkg/controller/replicaset);
//   - NodeLifecycle fails the pods of nodes gossip has lost for longer
//     than --node-lost-timeout (pkg/controller/nodelifecycle);
//   - PodGC deletes pods bound to nodes that do not exist
//     (pkg/controller/podgc);
//   - Namespaces keeps the system namespaces and every namespace's default
//     service account (pkg/controller/serviceaccount);
//   - PodCIDRs gives every node a pod CIDR (pkg/controller/nodeipam).
//
// A controller reads the committed state through its own small State
// interface (*consensus.State satisfies them all; the tests use a
// consensus.MemStore), and gossip through Liveness or Gossip, and changes it only
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
