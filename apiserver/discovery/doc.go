// Package discovery describes what the gossipod API serves, in the shapes
// Kubernetes clients discover it with, and serves those descriptions.
//
// Resources returns the one table of served resources: group, version,
// plural and singular names, kind, scope, verbs, short names, categories
// and subresources. Everything that describes the API to clients is
// derived from it — the legacy discovery documents (/api, /apis,
// /api/v1, /apis/apps/v1), aggregated discovery (apidiscovery.k8s.io/v2,
// which kubectl asks for first since 1.30), and the OpenAPI documents of
// package openapi — so that kubectl's RESTMapper, `kubectl api-resources`,
// `kubectl explain` and the server agree. The table must say only what the
// handlers really do: a verb listed here that a handler does not serve is
// a client error waiting to happen (kubectl picks its requests from
// discovery).
//
// Handler serves the discovery documents, and VersionHandler serves
// /version. Documents are built on first request from the table, not at
// package initialization: the pause process of every pod runs this same
// binary.
package discovery
