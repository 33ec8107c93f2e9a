package auth

import (
	"testing"

	"github.com/gossipod/gossipod/pki"
)

// TestNamesMatchTheCertificates keeps the identities this package
// authorizes in step with those the cluster CA puts in certificates.
func TestNamesMatchTheCertificates(t *testing.T) {
	for _, c := range []struct{ auth, pki string }{
		{GroupAdmin, pki.AdminGroup},
		{GroupEdit, pki.EditGroup},
		{GroupView, pki.ViewGroup},
		{GroupNodes, pki.AgentGroup},
		{NodeUserPrefix + "n1", pki.AgentUser("n1")},
	} {
		if c.auth != c.pki {
			t.Errorf("auth says %q, pki %q", c.auth, c.pki)
		}
	}
}
