package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpc is kubelet's pkg/probe/grpc: connect to the pod's IP and port
// without TLS (kubelet offers no credentials), waiting for the connection
// to be up within the timeout, then call grpc.health.v1.Health/Check with
// the service name in what is left of it. SERVING is success; any other
// answer, a connection that cannot be made and an RPC error are failures,
// each in kubelet's words, which the probe events repeat.
func (t *probeTarget) grpc(ctx context.Context, port int, service string, timeout time.Duration) (probeOutcome, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(t.host(""), strconv.Itoa(port))
	// DialContext with WithBlock, deprecated by grpc-go but what kubelet
	// does: it tells a server that cannot be reached ("failed to connect")
	// from one that answers badly.
	conn, err := grpc.DialContext(ctx, addr, //nolint:staticcheck // see above
		grpc.WithUserAgent(probeUserAgent),
		grpc.WithBlock(), //nolint:staticcheck // see above
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, address string) (net.Conn, error) {
			return t.dial(ctx, "tcp", address)
		}),
	)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return outcomeFailure, fmt.Sprintf("timeout: failed to connect service %q within %v: %+v", addr, timeout, err), nil
		}
		return outcomeFailure, fmt.Sprintf("error: failed to connect service at %q: %+v", addr, err), nil
	}
	defer func() { _ = conn.Close() }()
	resp, err := healthpb.NewHealthClient(conn).Check(metadata.NewOutgoingContext(ctx, metadata.MD{}),
		&healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if st, ok := status.FromError(err); ok {
			switch st.Code() {
			case codes.Unimplemented:
				return outcomeFailure, "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): " + st.Message(), nil
			case codes.DeadlineExceeded:
				return outcomeFailure, fmt.Sprintf("timeout: health rpc did not complete within %v", timeout), nil
			}
		}
		return outcomeFailure, fmt.Sprintf("error: health rpc probe failed: %+v", err), nil
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return outcomeFailure, fmt.Sprintf("service unhealthy (responded with %q)", s.String()), nil
	}
	return outcomeSuccess, "service healthy", nil
}
