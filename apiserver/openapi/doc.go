// Package openapi serves the OpenAPI v3 documents of the gossipod API, one
// per group-version, as kube-apiserver serves them at /openapi/v3, and
// the one OpenAPI v2 document of every group-version at /openapi/v2 (in
// JSON and in protobuf), which kubectl before 1.27 validates manifests
// with (see v2.go).
//
// kubectl depends on them more than it seems:
//
//   - kubectl create and apply, with their default --validate=strict, look
//     in the document of the object's group-version for the PATCH
//     operation of its kind and its fieldValidation parameter
//     (cli-runtime's QueryParamVerifierV3). Found, they send
//     fieldValidation=Strict and let the server refuse unknown fields;
//     not found (Namespaces and ServiceAccounts, which take no PATCH
//     yet), they fall back to OpenAPI v2, find no PATCH there either, and
//     validate the object themselves against the v2 definitions.
//   - kubectl apply computes the strategic merge patch of a second apply
//     from the x-kubernetes-patch-strategy and -merge-key extensions of
//     the kind's schema, so a missing merge key would replace whole lists.
//   - kubectl explain renders the schemas, found by their
//     x-kubernetes-group-version-kind.
//
// The documents are derived from discovery's table of resources: its paths
// and operations from the verbs each resource serves, its schemas by
// reflection from the k8s.io/api Go types the table names (see builder),
// with the comment markers reflection cannot see generated from the
// k8s.io sources into zz_generated_markers.go. The v2 document is
// converted from the v3 ones. They are built on the first request and kept
// (Service).
package openapi
