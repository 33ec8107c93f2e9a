// Package api holds gossipod's object types in the shape of the Kubernetes v1 API
// (Node, Status, and the metadata every object carries), with the helpers that
// decode and validate them.
//
// The types are gossipod's own rather than k8s.io/api's so that only the fields
// gossipod actually implements exist: a manifest that uses anything else is
// rejected with the field's path instead of being silently ignored. Resource
// quantities use k8s.io/apimachinery's resource.Quantity, so "500m", "3Gi" and
// "2560Mi" mean exactly what they mean to kubectl.
//
// This package imports no other gossipod package; everything else imports it.
package api
