package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Server is the node's cluster DNS server: it answers the cluster domain
// from the last Update and forwards every other name. Its methods are safe
// for concurrent use; queries never wait for an Update.
type Server struct {
	cfg     Config
	fwd     *forwarder
	idx     atomic.Pointer[index]
	queries chan struct{} // one token per query being answered

	// Unix seconds of the last log of each kind of per-query failure: a
	// flood or a dead upstream must not turn into a flood of logs.
	logBusy, logForward atomic.Int64

	mu       sync.Mutex // guards the fields below
	udp, tcp *dns.Server
	ctx      context.Context // canceled by Shutdown: stops forwards
	cancel   context.CancelFunc
}

// ErrNotStarted is returned by Shutdown on a server that is not running.
var ErrNotStarted = errors.New("clusterdns: server not started")

// New validates cfg and returns a server that is not yet listening. With
// no Upstreams it reads the host's resolv.conf now, once: a server must
// not start with nowhere to forward to and find out on the first query.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ups := make([]string, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		a, _ := upstreamAddr(u) // validated
		ups = append(ups, a)
	}
	if len(ups) == 0 {
		var err error
		if ups, err = hostUpstreams(cfg.ResolvConf); err != nil {
			return nil, fmt.Errorf("clusterdns: no upstream resolvers: %w", err)
		}
	}
	cfg.Upstreams = ups
	s := &Server{
		cfg:     cfg,
		fwd:     newForwarder(ups, cfg.ForwardTimeout, cfg.MaxConcurrentForwards),
		queries: make(chan struct{}, cfg.MaxConcurrentQueries),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Update replaces the cluster view the server answers from. The caller
// passes the whole state (Services, EndpointSlices and Pods of every
// namespace) after each change; the objects are read during the call
// only and may be changed afterwards. Building costs O(objects); queries
// in flight keep answering from the previous view meanwhile.
//
// Until the first Update, a cluster name that is not found is answered
// SERVFAIL instead of NXDOMAIN, as CoreDNS does before its caches have
// synced: a negative answer would be cached by clients for a name that
// may well exist.
func (s *Server) Update(services []*corev1.Service, slices []*discoveryv1.EndpointSlice, pods []*corev1.Pod) {
	s.idx.Store(buildIndex(uint32(time.Now().Unix()), services, slices, pods))
}

// Lister is the narrow read view of the replicated state the server
// needs; the agent implements it over its state. Each call returns the
// whole current list of every namespace; the server only reads the
// objects, during Sync. It must be safe to call from another goroutine.
type Lister interface {
	// Services of every namespace.
	Services() []*corev1.Service
	// EndpointSlices of every namespace; a slice belongs to the service
	// named by its kubernetes.io/service-name label.
	EndpointSlices() []*discoveryv1.EndpointSlice
	// Pods of every namespace; only read in the verified pod mode.
	Pods() []*corev1.Pod
}

// Sync is Update from a Lister.
func (s *Server) Sync(l Lister) {
	s.Update(l.Services(), l.EndpointSlices(), l.Pods())
}

// Run syncs from l now and then after each receive from changed, until
// ctx is done. The state's writer should signal with a non-blocking send
// on a channel of capacity 1: changes made during a rebuild then cost one
// more rebuild, not one each, so a burst of writes (a Deployment rolling)
// cannot queue rebuilds behind each other.
func (s *Server) Run(ctx context.Context, l Lister, changed <-chan struct{}) {
	s.Sync(l)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			s.Sync(l)
		}
	}
}

// Start listens on cfg.Addr (UDP and TCP, same port) and serves until
// Shutdown. It returns once both listeners are serving, or the error that
// prevented it; ctx bounds only the start.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp != nil || s.ctx.Err() != nil {
		return errors.New("clusterdns: already started (a Server starts once)")
	}
	pc, ln, err := listen(ctx, s.cfg.Addr, s.cfg.FreeBind)
	if err != nil {
		return fmt.Errorf("clusterdns: listening on %s: %w", s.cfg.Addr, err)
	}
	if err := s.fwd.dropSelf(pc.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		pc.Close()
		ln.Close()
		return err
	}
	udp := &dns.Server{PacketConn: pc, Handler: s, UDPSize: dns.DefaultMsgSize}
	tcp := &dns.Server{
		Listener: ln, Handler: s,
		// A client holding a connection open costs a goroutine; these
		// bound how long, as CoreDNS' defaults do.
		ReadTimeout: 3 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout:   func() time.Duration { return 10 * time.Second },
		MaxTCPQueries: 256,
	}
	started := make(chan struct{}, 2)
	failed := make(chan error, 2)
	for _, srv := range []*dns.Server{udp, tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
			}
		}()
	}
	for range 2 {
		select {
		case <-started:
		case err := <-failed:
			udp.Shutdown()
			tcp.Shutdown()
			return fmt.Errorf("clusterdns: serving on %s: %w", s.cfg.Addr, err)
		case <-ctx.Done():
			udp.Shutdown()
			tcp.Shutdown()
			return ctx.Err()
		}
	}
	s.udp, s.tcp = udp, tcp
	return nil
}

// listen opens UDP and TCP on the same address; with port 0, TCP takes
// the port the kernel gave UDP (retried a few times, since another
// process may hold that TCP port).
func listen(ctx context.Context, addr string, freeBind bool) (net.PacketConn, net.Listener, error) {
	var lc net.ListenConfig
	if freeBind {
		lc.Control = freeBindControl
	}
	for attempt := 0; ; attempt++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, err
		}
		ln, err := lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if _, p, _ := net.SplitHostPort(addr); p != "0" || attempt == 4 {
			return nil, nil, err
		}
	}
}

// Addr is the address the server listens on (UDP and TCP), once started.
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		return netip.AddrPort{}
	}
	return s.udp.PacketConn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Shutdown stops listening, cancels forwarded queries and waits for the
// queries being answered, until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	s.udp, s.tcp = nil, nil
	s.mu.Unlock()
	if udp == nil {
		return ErrNotStarted
	}
	s.cancel()
	return errors.Join(udp.ShutdownContext(ctx), tcp.ShutdownContext(ctx))
}

// ServeDNS answers one query; it implements dns.Handler, so the server
// can also be mounted on another miekg/dns server.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	select {
	case s.queries <- struct{}{}:
	default:
		s.warn(&s.logBusy, "cluster DNS: too many queries at once, answering SERVFAIL", queryAttrs(req)...)
		reply(w, req, new(dns.Msg).SetRcode(req, dns.RcodeServerFailure))
		return
	}
	m := s.answer(req)
	// The slot is free before the client can have the answer, so a client
	// that waits for its answer never finds its own query still counted.
	<-s.queries
	reply(w, req, m)
}

// answer computes the reply to req, locally or from upstream.
func (s *Server) answer(req *dns.Msg) *dns.Msg {
	if req.Response || req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		if len(req.Question) != 1 || req.Response {
			return new(dns.Msg).SetRcode(req, dns.RcodeFormatError)
		}
		return new(dns.Msg).SetRcode(req, dns.RcodeNotImplemented)
	}
	name := strings.ToLower(req.Question[0].Name)
	if m := s.answerLocal(req, name); m != nil {
		return m
	}
	return s.forward(req)
}

// forward sends req upstream; any failure is SERVFAIL for the client.
func (s *Server) forward(req *dns.Msg) *dns.Msg {
	resp, err := s.fwd.exchange(s.ctx, req)
	if err != nil {
		s.warn(&s.logForward, "cluster DNS: forwarding failed", append(queryAttrs(req), "error", err)...)
		return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
	}
	return resp
}

// warn logs at most once a second per kind (last).
func (s *Server) warn(last *atomic.Int64, msg string, attrs ...any) {
	now := time.Now().Unix()
	if prev := last.Load(); prev == now || !last.CompareAndSwap(prev, now) {
		return
	}
	s.cfg.Logger.Warn(msg, attrs...)
}

func queryAttrs(req *dns.Msg) []any {
	if len(req.Question) == 0 {
		return nil
	}
	q := req.Question[0]
	return []any{"name", q.Name, "type", dns.TypeToString[q.Qtype]}
}

// reply writes m, cut to what a UDP client can receive (setting TC so it
// retries over TCP), with an OPT record when the query had one.
func reply(w dns.ResponseWriter, req, m *dns.Msg) {
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		if m.IsEdns0() == nil {
			m.SetEdns0(opt.UDPSize(), opt.Do())
		}
	}
	if _, isTCP := w.RemoteAddr().(*net.TCPAddr); isTCP {
		size = dns.MaxMsgSize
	}
	m.Truncate(size)
	_ = w.WriteMsg(m)
}
