//go:build !linux

package network

import (
	"context"
	"net/netip"
)

// Manager is only implemented on Linux; elsewhere New fails with ErrUnsupported.
type Manager struct{}

// New fails: pod networking needs Linux.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, ErrUnsupported
}

// SetPodCIDR fails with ErrUnsupported.
func (m *Manager) SetPodCIDR(string) error { return ErrUnsupported }

// Setup fails with ErrUnsupported.
func (m *Manager) Setup(context.Context, PodNetwork) (Result, error) {
	return Result{}, ErrUnsupported
}

// Teardown fails with ErrUnsupported.
func (m *Manager) Teardown(context.Context, PodNetwork) error { return ErrUnsupported }

// Sandboxes fails with ErrUnsupported.
func (m *Manager) Sandboxes() ([]string, error) { return nil, ErrUnsupported }

// SyncRoutes fails with ErrUnsupported.
func (m *Manager) SyncRoutes([]Route) error { return ErrUnsupported }

// GuardAgentPorts fails with ErrUnsupported.
func (m *Manager) GuardAgentPorts() error { return ErrUnsupported }

// Close does nothing.
func (m *Manager) Close() error { return nil }

// Gateway reports none: pod networking needs Linux.
func (m *Manager) Gateway() (netip.Addr, bool) { return netip.Addr{}, false }
