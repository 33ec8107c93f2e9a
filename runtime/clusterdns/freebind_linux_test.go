package clusterdns

import (
	"context"
	"testing"
)

// TestFreeBind: with FreeBind the server starts on an address this host
// does not have (the pods' gateway before the bridge carries it); without
// it, the bind fails.
func TestFreeBind(t *testing.T) {
	const absent = "192.0.2.53:0" // TEST-NET-1: never this host's
	for _, tc := range []struct {
		freeBind bool
		wantErr  bool
	}{{false, true}, {true, false}} {
		cfg := DefaultConfig()
		cfg.Addr = absent
		cfg.FreeBind = tc.freeBind
		cfg.Upstreams = []string{"127.0.0.1:53"}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start(context.Background())
		if (err != nil) != tc.wantErr {
			t.Errorf("FreeBind %t: Start = %v, want error %t", tc.freeBind, err, tc.wantErr)
		}
		if err == nil {
			if got := s.Addr().Addr().String(); got != "192.0.2.53" {
				t.Errorf("FreeBind: listening on %s, want 192.0.2.53", got)
			}
			_ = s.Shutdown(context.Background())
		}
	}
}
