// Package tables answers `kubectl get` the way kube-apiserver does: when a
// GET or a watch asks for `application/json;as=Table;v=v1;g=meta.k8s.io`,
// the response is a metav1.Table whose columns and cells are those of
// Kubernetes' own printers (kubernetes/pkg/printers/internalversion), so
// kubectl prints the columns its users know (READY, STATUS, RESTARTS, AGE,
// and the wide ones with -o wide) without knowing gossipod's types.
//
// The server computes the cells rather than kubectl because that is how
// kubectl works since 1.11: it prints whatever Table the server returns and
// only falls back to NAME and AGE for objects it gets instead. Each kind's
// rows are a port of its Kubernetes printer for the fields gossipod has;
// where gossipod lacks a field (nominated nodes, readiness gates, the
// container runtime version) the cell is what Kubernetes prints for an
// object without it.
//
// The package depends only on the api package and on apimachinery's
// metav1, so the agent's handlers (and, later, the generic resource
// handler) call Transform on whatever they were about to write.
package tables
