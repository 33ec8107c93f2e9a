// Package logbridge routes the log output of hashicorp/raft (hclog) and
// hashicorp/memberlist (the standard log package) into log/slog, so an agent
// writes one log stream in one format, at one level setting.
//
// Both libraries write lines of the form "… [LEVEL] component: message"; the
// bridge recovers the level from the bracketed token and drops the library's
// own timestamp, since slog adds its own.
package logbridge

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
	"k8s.io/klog/v2"
)

// Writer is an io.Writer that turns each written line into one slog record.
// It is safe for concurrent use because slog handlers are.
type Writer struct {
	logger *slog.Logger
}

// NewWriter returns a Writer that logs through logger.
func NewWriter(logger *slog.Logger) *Writer {
	return &Writer{logger: logger}
}

var levelTokens = []struct {
	token string
	level slog.Level
}{
	{"[TRACE]", slog.LevelDebug - 4},
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

// Write logs every complete or partial line in p. It never fails, so that a
// library never sees a logging error.
func (w *Writer) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.logLine(string(line))
	}
	return len(p), nil
}

func (w *Writer) logLine(line string) {
	level := slog.LevelInfo
	msg := line
	for _, lt := range levelTokens {
		if i := strings.Index(line, lt.token); i >= 0 {
			level = lt.level
			msg = strings.TrimSpace(line[i+len(lt.token):])
			break
		}
	}
	if msg == "" {
		return
	}
	w.logger.Log(context.Background(), level, msg)
}

// StdLogger returns a *log.Logger, as memberlist wants, that logs through logger.
func StdLogger(logger *slog.Logger) *log.Logger {
	return log.New(NewWriter(logger), "", 0)
}

// HCLogger returns an hclog.Logger, as raft wants, that logs through logger.
// The hclog level is set from the slog handler's, so raft does not format
// debug lines that would be dropped anyway.
func HCLogger(name string, logger *slog.Logger) hclog.Logger {
	level := hclog.Info
	ctx := context.Background()
	switch {
	case logger.Enabled(ctx, slog.LevelDebug):
		level = hclog.Debug
	case logger.Enabled(ctx, slog.LevelInfo):
		level = hclog.Info
	case logger.Enabled(ctx, slog.LevelWarn):
		level = hclog.Warn
	default:
		level = hclog.Error
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        name,
		Level:       level,
		Output:      NewWriter(logger),
		DisableTime: true,
	})
}

var _ io.Writer = (*Writer)(nil)

// Klog routes klog, the log of the Kubernetes libraries (the streaming
// servers of exec, attach and port-forward), into logger at debug level,
// whatever level they log at. Those libraries log a client's ordinary
// hang-up ("use of closed network connection") as an error; what goes
// wrong in a session is told to its client instead. klog is global: the
// last call wins, so only a program's main should call it.
func Klog(logger *slog.Logger) {
	klog.SetSlogLogger(slog.New(debugHandler{logger.With("component", "k8s").Handler()}))
}

// debugHandler logs every record at debug level.
type debugHandler struct{ h slog.Handler }

func (d debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugHandler{d.h.WithAttrs(attrs)}
}

func (d debugHandler) WithGroup(name string) slog.Handler { return debugHandler{d.h.WithGroup(name)} }
