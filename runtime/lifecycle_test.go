package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// execStub is a sandbox whose Exec writes out and errOut and exits code.
type execStub struct {
	podSandbox
	out, errOut string
	code        int
}

func (s execStub) Exec(ctx context.Context, name string, args []string, stdio ExecIO) (int, error) {
	fmt.Fprint(stdio.Stdout, s.out)
	fmt.Fprint(stdio.Stderr, s.errOut)
	return s.code, nil
}

// The hooks' handlers say how they failed in kubelet's words.
func TestRunHook(t *testing.T) {
	pod := &api.Pod{ObjectMeta: api.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}}
	c := &api.Container{Name: "app"}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		sb      execStub
		h       api.LifecycleHandler
		wantMsg string
		wantErr bool
	}{
		{"exec succeeds", context.Background(), execStub{out: "ok", code: 0},
			api.LifecycleHandler{Exec: &api.ExecAction{Command: []string{"true"}}}, "", false},
		{"exec fails: the error quotes stderr, the message both", context.Background(), execStub{out: "out\n", errOut: "bad\n", code: 2},
			api.LifecycleHandler{Exec: &api.ExecAction{Command: []string{"sh", "-c", "x"}}},
			`Exec lifecycle hook ([sh -c x]) for Container "app" in Pod "p_ns(u)" failed - error: command 'sh -c x' exited with 2: bad` + "\n" + `, message: "out\nbad\n"`, true},
		{"sleep of 0 seconds", context.Background(), execStub{},
			api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 0}}, "", false},
		{"sleep cut short", cancelled, execStub{},
			api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 5}},
			`Sleep lifecycle hook (5) for Container "app" in Pod "p_ns(u)" failed - error: container terminated before sleep hook finished`, true},
		{"no handler", context.Background(), execStub{}, api.LifecycleHandler{}, "Cannot run handler: invalid handler: &LifecycleHandler{Exec:nil,HTTPGet:nil,TCPSocket:nil,Sleep:nil,}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := newProbeTarget(tt.sb, c, "")
			msg, err := runHook(tt.ctx, target, pod, &tt.h, time.Millisecond)
			if msg != tt.wantMsg || (err != nil) != tt.wantErr {
				t.Errorf("runHook = %q, %v\nwant %q (error %v)", msg, err, tt.wantMsg, tt.wantErr)
			}
		})
	}
}

// A sleep hook waits its seconds (here of a millisecond each).
func TestRunHookSleepWaits(t *testing.T) {
	target := newProbeTarget(execStub{}, &api.Container{Name: "app"}, "")
	start := time.Now()
	if _, err := runHook(context.Background(), target, &api.Pod{}, &api.LifecycleHandler{Sleep: &api.SleepAction{Seconds: 50}}, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("sleep of 50 units returned after %s", d)
	}
}
