// Package podstream serves a pod's interactive subresources — exec, attach
// and portforward — in the protocols kubectl and client-go speak, so that
// `kubectl exec -it`, `kubectl attach` and `kubectl port-forward` work
// against an agent as they do against a kubelet behind kube-apiserver.
//
// The wire protocols are not written here. kubelet's own streaming server,
// published as k8s.io/cri-streaming, serves SPDY/3.1 with the channel.k8s.io
// subprotocols v1 to v4 (v4 carries the exit code in a Status on the error
// stream) and the older WebSocket channel protocols (channel.k8s.io,
// base64.channel.k8s.io, v4.channel.k8s.io), and SPDY port forwarding. Two
// things kubectl ≥ 1.30 tries first are served by kube-apiserver, not by
// kubelet, and are added here on the same k8s.io/streaming primitives:
//
//   - exec and attach over WebSocket with v5.channel.k8s.io, whose CLOSE
//     signal lets a client end its stdin (v5.go): wsstream implements the
//     framing and the signal; this package only wires the channels and
//     writes the final Status, as kube-apiserver's translator does;
//   - port forwarding with SPDY tunnelled in WebSocket binary messages
//     (subprotocol SPDY/3.1+portforward.k8s.io, tunnel.go): the WebSocket
//     is made to look like a hijacked connection to kubelet's SPDY server.
//
// Measured against the alternative of kube-apiserver's own translator
// (k8s.io/apiserver/pkg/util/proxy), which needs an SPDY server to dial
// behind it and links the apiserver module and client-go's executors into
// the agent, this costs far less binary (see the commit that added it).
//
// The handlers run where the pod runs; an agent receiving a request for a
// pod elsewhere proxies the whole upgraded connection to the owning agent
// before any of this is reached.
package podstream
