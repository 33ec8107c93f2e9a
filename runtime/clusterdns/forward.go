package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// errTooManyForwards is returned when MaxConcurrentForwards queries are
// already waiting on upstreams.
var errTooManyForwards = errors.New("too many concurrent forwarded queries")

// forwarder sends queries to the upstream resolvers, in order, over UDP,
// and again over TCP when the UDP answer is truncated.
type forwarder struct {
	upstreams []string // "ip:port"
	sem       chan struct{}
	udp, tcp  *dns.Client
}

func newForwarder(upstreams []string, timeout time.Duration, maxConcurrent int) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		sem:       make(chan struct{}, maxConcurrent),
		// 4096 bytes of EDNS buffer when the client asked for none of
		// its own: the answer is cut to the client's size on the way back.
		udp: &dns.Client{Net: "udp", Timeout: timeout, UDPSize: 4096},
		tcp: &dns.Client{Net: "tcp", Timeout: timeout},
	}
}

// dropSelf removes the server's own address from the upstreams (a host
// resolv.conf naming the node's cluster DNS would loop a query forever).
func (f *forwarder) dropSelf(self netip.AddrPort) error {
	kept := f.upstreams[:0:0]
	for _, u := range f.upstreams {
		ap, err := netip.ParseAddrPort(u)
		if err == nil && ap.Port() == self.Port() &&
			(ap.Addr() == self.Addr() || (self.Addr().IsUnspecified() && ap.Addr().IsLoopback())) {
			continue
		}
		kept = append(kept, u)
	}
	if len(kept) == 0 {
		return fmt.Errorf("clusterdns: every upstream (%v) is this server's own address %s", f.upstreams, self)
	}
	f.upstreams = kept
	return nil
}

// exchange forwards req and returns the first upstream answer, with req's
// ID. An upstream that fails (timeout, refused connection) is skipped for
// the next; an upstream that answers, whatever its rcode, is believed.
func (f *forwarder) exchange(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	select {
	case f.sem <- struct{}{}:
		defer func() { <-f.sem }()
	default:
		return nil, errTooManyForwards
	}
	q := req.Copy()
	// A fresh ID per upstream query, so an answer to someone else's
	// query with the client's ID cannot be taken for ours.
	q.Id = dns.Id()
	var errs []error
	for _, u := range f.upstreams {
		resp, err := exchangeOne(ctx, f.udp, q, u)
		if err == nil && resp.Truncated {
			resp, err = exchangeOne(ctx, f.tcp, q, u)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		resp.Id = req.Id
		return resp, nil
	}
	return nil, errors.Join(errs...)
}

// exchangeOne is one exchange with one upstream that, unlike miekg/dns'
// ExchangeContext (which only takes the context's deadline), also ends
// when ctx is canceled, so Shutdown does not wait out ForwardTimeout.
func exchangeOne(ctx context.Context, c *dns.Client, q *dns.Msg, addr string) (*dns.Msg, error) {
	co, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, q, co)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return resp, err
}
