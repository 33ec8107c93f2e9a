package runtime

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gossipod/gossipod/api"
)

// serveGRPC runs a gRPC server on a loopback port until the test ends and
// returns the port.
func serveGRPC(t *testing.T, register func(*grpc.Server)) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	register(s)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// hangingHealth is a health server whose Check never answers before the
// caller gives up.
type hangingHealth struct {
	healthpb.UnimplementedHealthServer
}

func (hangingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestGRPCProbe(t *testing.T) {
	hs := health.NewServer() // the overall service ("") is SERVING
	hs.SetServingStatus("api.v1", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db.v1", healthpb.HealthCheckResponse_NOT_SERVING)
	healthy := serveGRPC(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, hs) })
	hanging := serveGRPC(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, hangingHealth{}) })
	noHealth := serveGRPC(t, func(*grpc.Server) {})

	// A TCP server that accepts and never speaks HTTP/2: the connection
	// is never ready.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() { mute.Close(); <-accepted }()
	mutePort := int32(mute.Addr().(*net.TCPAddr).Port)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := int32(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	addr := func(p int32) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p))) }
	svc := func(s string) *string { return &s }
	tests := []struct {
		name    string
		port    int32
		service *string
		timeout time.Duration
		want    probeOutcome
		output  string
	}{
		{"no service: the server's overall status", healthy, nil, time.Second, outcomeSuccess, "service healthy"},
		{"serving service", healthy, svc("api.v1"), time.Second, outcomeSuccess, "service healthy"},
		{"not serving", healthy, svc("db.v1"), time.Second, outcomeFailure, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", healthy, svc("nope"), time.Second, outcomeFailure,
			"error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
		{"no health service", noHealth, nil, time.Second, outcomeFailure,
			"error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"},
		{"nothing listening", closedPort, nil, 300 * time.Millisecond, outcomeFailure,
			`timeout: failed to connect service "` + addr(closedPort) + `" within 300ms: context deadline exceeded`},
		{"server never speaks gRPC", mutePort, nil, 300 * time.Millisecond, outcomeFailure,
			`timeout: failed to connect service "` + addr(mutePort) + `" within 300ms: context deadline exceeded`},
		{"health check hangs", hanging, nil, 300 * time.Millisecond, outcomeFailure, "timeout: health rpc did not complete within 300ms"},
	}
	target := newProbeTarget(nil, &api.Container{Name: "app"}, "127.0.0.1")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &api.Probe{ProbeHandler: api.ProbeHandler{GRPC: &api.GRPCAction{Port: tt.port, Service: tt.service}}}
			start := time.Now()
			got, out, err := target.run(context.Background(), p, tt.timeout)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got != tt.want || out != tt.output {
				t.Errorf("got %v %q, want %v %q", got, out, tt.want, tt.output)
			}
			if d := time.Since(start); d > tt.timeout+time.Second {
				t.Errorf("took %v with a timeout of %v", d, tt.timeout)
			}
		})
	}
}
