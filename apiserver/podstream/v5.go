package podstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/gossipod/gossipod/api"
)

// statusWriteTimeout bounds writing the final Status to a client that
// stopped reading.
const statusWriteTimeout = 10 * time.Second

// streams are the server's ends of one exec or attach session.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.WriteCloser
	tty            bool
	resize         <-chan crirc.TerminalSize
}

// serveV5 serves one exec or attach session over WebSocket with
// v5.channel.k8s.io, as kube-apiserver does for kubectl ≥ 1.30: channels
// 0–4 are stdin, stdout, stderr, error and resize, a message starting with
// 255 closes a channel (how the client ends its stdin; wsstream handles
// it), and the session ends with a Status on the error channel. run gets
// the streams the client asked for; nil ones were not asked for.
func serveV5(w http.ResponseWriter, r *http.Request, opts StreamOptions, run func(context.Context, streams) error) {
	channels := []wsstream.ChannelType{
		crirc.StreamStdIn:  ignoreUnless(opts.Stdin, wsstream.ReadChannel),
		crirc.StreamStdOut: ignoreUnless(opts.Stdout, wsstream.WriteChannel),
		crirc.StreamStdErr: ignoreUnless(opts.Stderr, wsstream.WriteChannel),
		crirc.StreamErr:    wsstream.WriteChannel,
		crirc.StreamResize: wsstream.ReadChannel,
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		crirc.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(IdleTimeout)
	_, chans, err := conn.Open(w, r)
	if err != nil {
		// The WebSocket handshake has answered the client already.
		slog.Debug("exec/attach: websocket upgrade failed", "err", err)
		return
	}
	defer conn.Close()
	// An empty message on the lowest writable channel tells the client
	// the session is established (kube-apiserver and kubelet do the same).
	first := crirc.StreamErr
	switch {
	case opts.Stdout:
		first = crirc.StreamStdOut
	case opts.Stderr:
		first = crirc.StreamStdErr
	}
	if _, err := chans[first].Write(nil); err != nil {
		return
	}
	s := streams{tty: opts.TTY}
	if opts.Stdin {
		s.stdin = chans[crirc.StreamStdIn]
	}
	if opts.Stdout {
		s.stdout = chans[crirc.StreamStdOut]
	}
	if opts.Stderr {
		s.stderr = chans[crirc.StreamStdErr]
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if opts.TTY {
		resize := make(chan crirc.TerminalSize)
		go decodeSizes(ctx, chans[crirc.StreamResize], resize)
		s.resize = resize
	}
	st := finalStatus(run(ctx, s))
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	conn.SetWriteDeadline(statusWriteTimeout)
	_, _ = chans[crirc.StreamErr].Write(b)
}

func ignoreUnless(wanted bool, t wsstream.ChannelType) wsstream.ChannelType {
	if wanted {
		return t
	}
	return wsstream.IgnoreChannel
}

// decodeSizes reads the resize channel's JSON terminal sizes into out
// until the channel ends or ctx does, then closes out.
func decodeSizes(ctx context.Context, in io.Reader, out chan<- crirc.TerminalSize) {
	defer close(out)
	dec := json.NewDecoder(in)
	for {
		var size crirc.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- size:
		case <-ctx.Done():
			return
		}
	}
}

// finalStatus is the Status that ends a v4/v5 session: Success, the
// command's exit code as a NonZeroExitCode Status with an ExitCode cause
// (client-go turns it into an exit error with that code), or the error.
func finalStatus(err error) *api.Status {
	var code exitError
	switch {
	case err == nil:
		return &api.Status{TypeMeta: api.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Success"}
	case errors.As(err, &code):
		st := api.NewStatus(0, crirc.NonZeroExitCodeReason,
			fmt.Sprintf("command terminated with non-zero exit code: %v", err))
		st.Details = &api.StatusDetails{Causes: []api.StatusCause{{Type: crirc.ExitCodeCauseType, Message: strconv.Itoa(int(code))}}}
		return st
	}
	var st *api.Status
	if errors.As(err, &st) {
		return st
	}
	return api.NewInternalError(fmt.Errorf("error executing command in container: %w", err))
}
