//go:build !linux

package serviceproxy

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ErrUnsupported is returned by New where there is no nftables.
var ErrUnsupported = errors.New("serviceproxy: needs Linux nftables")

// Proxier programs one node's service data plane; on this system it cannot.
type Proxier struct{}

// New fails: the proxy needs Linux.
func New(cfg Config) (*Proxier, error) { return nil, ErrUnsupported }

// Sync fails: the proxy needs Linux.
func (p *Proxier) Sync(context.Context, []*corev1.Service, []*discoveryv1.EndpointSlice) error {
	return ErrUnsupported
}

// Cleanup fails: the proxy needs Linux.
func (p *Proxier) Cleanup() error { return ErrUnsupported }

// Close does nothing.
func (p *Proxier) Close() error { return nil }
