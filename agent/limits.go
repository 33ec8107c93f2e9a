package agent

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
)

// Limits bound what one client can make an agent spend, so that no request
// — however large, deep or numerous — takes a node down. Start from
// DefaultLimits.
type Limits struct {
	// MaxDeploymentReplicas bounds a Deployment's spec.replicas at the API
	// (--max-deployment-replicas). It may not exceed
	// api.MaxDeploymentReplicasCeiling, which the FSM enforces on every
	// agent whatever its flags.
	MaxDeploymentReplicas int32
	// MaxWatchesPerClient bounds the watches one user (or unauthenticated client IP) holds open at
	// once on this agent (--max-watches-per-client); one more is refused
	// with 429 TooManyRequests.
	MaxWatchesPerClient int
	// MaxImageArchiveBytes bounds an uploaded image archive
	// (--max-image-size), both as sent and once decompressed, so a gzip
	// bomb stops at the bound instead of filling the disk.
	MaxImageArchiveBytes int64
	// RequestTimeout bounds reading the body and writing the response of a
	// request that is not long-running, as kube-apiserver's
	// --request-timeout does; watches, `logs -f`, exec and image uploads are
	// long-running and are bounded by their own ends instead.
	RequestTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no request.
	IdleTimeout time.Duration
	// WatchWriteTimeout closes a watch whose client takes none of its
	// events for this long: its connection's buffers are full and the
	// agent's write is blocked. kube-apiserver likewise closes a watcher
	// whose buffer fills; the client watches again from the last
	// resourceVersion it saw. Other watches and the state never wait for
	// a slow one, so this bounds only what a stuck client holds (a
	// goroutine, a watch slot, the events it has not taken).
	WatchWriteTimeout time.Duration
}

// DefaultLimits are generous for real use and small for an agent's memory.
func DefaultLimits() Limits {
	return Limits{
		MaxDeploymentReplicas: api.DefaultMaxDeploymentReplicas,
		// kubectl and controllers hold a handful of watches each; a
		// hundred leaves room for many tools behind one NAT address.
		MaxWatchesPerClient: 100,
		// Large CUDA or ML images reach several GiB uncompressed.
		MaxImageArchiveBytes: 8 << 30,
		// kube-apiserver's --request-timeout default.
		RequestTimeout: time.Minute,
		// Go's http.Server uses ReadTimeout when IdleTimeout is 0, and we
		// leave that 0 (uploads and exec stream bodies); two minutes is
		// what net/http's Transport keeps idle connections for (90 s) plus
		// slack.
		IdleTimeout: 2 * time.Minute,
		// A client that reads nothing for this long while its buffers are
		// full is stuck, not slow.
		WatchWriteTimeout: 10 * time.Second,
	}
}

// Validate names the flag of each problem.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxDeploymentReplicas < 1 || l.MaxDeploymentReplicas > api.MaxDeploymentReplicasCeiling {
		errs = append(errs, fmt.Errorf("--max-deployment-replicas %d: must be between 1 and %d (the bound every agent's state machine enforces)",
			l.MaxDeploymentReplicas, api.MaxDeploymentReplicasCeiling))
	}
	if l.MaxWatchesPerClient < 1 {
		errs = append(errs, fmt.Errorf("--max-watches-per-client %d: must be at least 1", l.MaxWatchesPerClient))
	}
	if l.MaxImageArchiveBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("--max-image-size %d bytes: must be at least 1Mi", l.MaxImageArchiveBytes))
	}
	if l.RequestTimeout <= 0 || l.IdleTimeout <= 0 || l.WatchWriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request timeout %v, idle timeout %v and watch write timeout %v must be positive",
			l.RequestTimeout, l.IdleTimeout, l.WatchWriteTimeout))
	}
	return errors.Join(errs...)
}

// maxInternalBodyBytes bounds a command a follower forwards to the leader:
// a batch of many pods is larger than one object.
const maxInternalBodyBytes = 64 << 20

// requestKind is how the limits treat a request.
type requestKind int

const (
	// ordinary requests get a body bound and a deadline.
	ordinary requestKind = iota
	// watch streams: long-running, and counted per client.
	watchStream
	// streams that read a stdin or write a log for as long as they last:
	// no deadline, and the body is read as frames.
	longStream
	// imageUpload: long-running, body bounded by MaxImageArchiveBytes.
	imageUpload
)

// classify sorts a request as kube-apiserver's long-running check does
// (watch, exec, attach, log follow, proxy are exempt from the request
// timeout).
func classify(r *http.Request) requestKind {
	switch p := r.URL.Path; {
	case apiserver.IsWatch(r):
		return watchStream
	case strings.HasSuffix(p, "/exec"), strings.HasSuffix(p, "/attach"), strings.HasSuffix(p, "/portforward"):
		return longStream
	case strings.HasSuffix(p, "/log") && (r.URL.Query().Get("follow") == "true" || r.URL.Query().Get("follow") == "1"):
		return longStream
	case p == "/v1/images/load":
		return imageUpload
	}
	return ordinary
}

// withLimits wraps the API's handler with the per-request limits: a body
// bound for every endpoint (3 MiB for API objects as in Kubernetes, 64 MiB
// for the internal write path, MaxImageArchiveBytes for an image; exec
// streams bound each frame instead), a read and write deadline for
// ordinary requests, and the per-client watch count.
//
// The server's own WriteTimeout stays 0: it would cut every watch, `logs
// -f` and exec after that long. Deadlines are set per request through
// http.ResponseController instead.
func (a *Agent) withLimits(next http.Handler) http.Handler {
	lim := a.cfg.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch classify(r) {
		case watchStream:
			client := apiserver.WatchClient(r)
			release, ok := a.watches.acquire(client)
			if !ok {
				w.Header().Set("Retry-After", "1")
				apiserver.WriteError(w, api.NewTooManyRequests(fmt.Sprintf(
					"too many watches from %s: at most %d at once on this agent (--max-watches-per-client)", client, lim.MaxWatchesPerClient), 1))
				return
			}
			defer release()
			r.Body = http.MaxBytesReader(w, r.Body, apiserver.MaxBodyBytes)
		case longStream:
		case imageUpload:
			r.Body = http.MaxBytesReader(w, r.Body, lim.MaxImageArchiveBytes)
		default:
			limit := int64(apiserver.MaxBodyBytes)
			if r.URL.Path == internalApplyPath {
				limit = maxInternalBodyBytes
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			rc := http.NewResponseController(w)
			deadline := time.Now().Add(lim.RequestTimeout)
			// Errors mean the connection does not support deadlines
			// (a test recorder); the request then runs without one.
			_ = rc.SetReadDeadline(deadline)
			_ = rc.SetWriteDeadline(deadline)
		}
		next.ServeHTTP(w, r)
	})
}

// watchLimiter counts the open watches of each client. It is safe for
// concurrent use.
type watchLimiter struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

func newWatchLimiter(max int) *watchLimiter {
	return &watchLimiter{max: max, open: map[string]int{}}
}

// acquire takes one of client's watch slots; release gives it back. ok is
// false, and release nil, when the client holds max already.
func (l *watchLimiter) acquire(client string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client] >= l.max {
		return nil, false
	}
	l.open[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[client]--; l.open[client] <= 0 {
				delete(l.open, client)
			}
		})
	}, true
}

// ErrArchiveTooLarge is an image archive that, once decompressed, is larger
// than the agent accepts.
var ErrArchiveTooLarge = errors.New("image archive too large")

// decompressCapped returns the archive r as a plain tar: a gzipped one is
// decompressed here, with at most limit bytes coming out, so that a small
// upload cannot expand into a full disk (a gzip bomb). Reading more than
// limit fails with ErrArchiveTooLarge. The runtime then sees a plain tar.
func decompressCapped(r io.Reader, limit int64) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, func() {}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("read gzip header: %w", err)
	}
	return &cappedReader{r: zr, left: limit, limit: limit}, func() { zr.Close() }, nil
}

// cappedReader fails with ErrArchiveTooLarge once more than limit bytes
// have been read, rather than ending early as io.LimitReader would and
// passing a truncated archive on.
type cappedReader struct {
	r           io.Reader
	left, limit int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a stream that ends exactly at the limit
		// from one that goes on.
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes decompressed (--max-image-size)", ErrArchiveTooLarge, c.limit)
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
