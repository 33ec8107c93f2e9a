package api

import (
	corev1 "k8s.io/api/core/v1"
)

// Endpoints is a v1 Endpoints, Kubernetes' own type: the legacy form of a
// Service's addresses, which clients written before EndpointSlices
// (`kubectl get endpoints`, older ingress controllers and client
// libraries) read. The state machine keeps one per Service whose
// endpoints it holds, mirrored from the Service's EndpointSlices as
// kube-controller-manager's endpoints controller computes it from the same
// pods: ready addresses, not-ready addresses (terminating ones left out
// unless publishNotReadyAddresses), subsets grouped by ports. It is read
// only through the API.
type Endpoints = corev1.Endpoints

// EndpointsList is the answer to a list of Endpoints.
type EndpointsList = corev1.EndpointsList

// EndpointSubset is a set of addresses sharing a set of ports.
type EndpointSubset = corev1.EndpointSubset

// EndpointAddress is one address of an Endpoints subset.
type EndpointAddress = corev1.EndpointAddress

// LabelSkipMirror is the label kube-apiserver puts on the kubernetes
// Service's Endpoints so that the EndpointSlice mirroring controller
// leaves them alone (it keeps the slice itself).
const LabelSkipMirror = "endpointslice.kubernetes.io/skip-mirror"

// LabelHeadless marks the Endpoints of a headless Service, as
// kube-controller-manager's endpoints controller does.
const LabelHeadless = corev1.IsHeadlessService
