package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
)

// This file holds the container lifecycle hooks, kubelet's
// pkg/kubelet/lifecycle handler runner and the hook parts of its
// startContainer and killContainer. The handlers reuse the probes' (an
// exec in the container, an httpGet to the pod); the differences are
// kubelet's: a hook has no timeout of its own (postStart runs until it
// returns, preStop until the grace period ends), an httpGet hook fails
// only when no response comes (any status is an answer), and sleep waits
// on the node, not in the container.

// lifecycleUserAgent is the User-Agent of httpGet hooks, kubelet's
// kube-lifecycle/<major>.<minor> (see probeUserAgent).
const lifecycleUserAgent = "kube-lifecycle/1.37"

// minGraceAfterPreStop is kubelet's minimumGracePeriodInSeconds: however
// much of the grace period a preStop hook used, the container gets this
// long between SIGTERM and SIGKILL, "to avoid unnecessary SIGKILLs".
const minGraceAfterPreStop = 2 * time.Second

// Event reasons and waiting reason of hooks, kubelet's.
const (
	eventFailedPostStartHook = "FailedPostStartHook"
	eventFailedPreStopHook   = "FailedPreStopHook"
	// reasonPostStartHookError is the waiting reason of a container whose
	// postStart hook failed, until it restarts (kubelet's ErrPostStartHook).
	reasonPostStartHookError = "PostStartHookError"
)

// hasPostStart reports whether the container has a postStart hook.
func hasPostStart(c *api.Container) bool {
	return c != nil && c.Lifecycle != nil && c.Lifecycle.PostStart != nil
}

// hasPreStop reports whether the container has a preStop hook.
func hasPreStop(c *api.Container) bool {
	return c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil
}

// runHook runs one lifecycle handler against a running container, as
// kubelet's handlerRunner.Run, and returns kubelet's message on failure.
// unit is the length of a sleep handler's second (shorter in tests).
func runHook(ctx context.Context, t *probeTarget, pod *api.Pod, h *api.LifecycleHandler, unit time.Duration) (string, error) {
	c := t.container
	switch {
	case h.Exec != nil:
		// As the CRI's ExecSync: the error quotes stderr, the message
		// stdout then stderr.
		stdout, stderr := &limitedBuffer{max: maxProbeOutput}, &limitedBuffer{max: maxProbeOutput}
		code, err := t.sandbox.Exec(ctx, c.Name, h.Exec.Command, ExecIO{Stdout: stdout, Stderr: stderr})
		if err == nil && code != 0 {
			err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(h.Exec.Command, " "), code, stderr.String())
		}
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, c.Name, podFullName(pod), err, stdout.String()+stderr.String()), err
		}
		return "", nil
	case h.HTTPGet != nil:
		if err := t.hookHTTPGet(ctx, h.HTTPGet); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				h.HTTPGet.Path, c.Name, podFullName(pod), err), err
		}
		return "", nil
	case h.Sleep != nil:
		timer := time.NewTimer(time.Duration(h.Sleep.Seconds) * unit)
		defer timer.Stop()
		select {
		case <-timer.C:
			return "", nil
		case <-ctx.Done():
			err := errors.New("container terminated before sleep hook finished")
			return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v",
				h.Sleep.Seconds, c.Name, podFullName(pod), err), err
		}
	}
	err := fmt.Errorf("invalid handler: %v", h)
	return fmt.Sprintf("Cannot run handler: %v", err), err
}

// hookHTTPGet sends a hook's GET as kubelet's runHTTPHandler: built as a
// probe's request, the body discarded, and only a failure to get an
// answer is an error (a 500 is an answer).
func (t *probeTarget) hookHTTPGet(ctx context.Context, g *api.HTTPGetAction) error {
	req, err := t.httpRequest(g, lifecycleUserAgent)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: t.transport}
	res, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxProbeOutput))
	return res.Body.Close()
}

// hookTarget is what a hook of the container needs: the probes' target
// for the pod's current sandbox.
func (w *podWorker) hookTarget(c *api.Container) *probeTarget {
	return newProbeTarget(w.sb, c, w.st.PodIP)
}

// postStart runs a just-started container's postStart hook, as kubelet's
// startContainer does before the start counts: until it returns, the
// worker starts nothing else and reports nothing. If it fails, the
// container is killed (its preStop runs first, within the grace period),
// with kubelet's events (FailedPostStartHook, then Killing), and waits as
// PostStartHookError until it restarts per restart policy and back-off.
// It reports whether the hook succeeded. A hook cut short by a deletion is
// nobody's fault: the container is left to the deletion.
func (w *podWorker) postStart(ctx context.Context, rec *containerRecord, c *api.Container) bool {
	msg, err := runHook(ctx, w.hookTarget(c), w.st.Pod, c.Lifecycle.PostStart, w.r.probeUnit)
	if err == nil {
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	w.log.Warn("postStart hook failed", "container", c.Name, "err", err)
	// Not the message in the event: it may hold secrets (kubelet's words).
	w.events.record(w.st.Pod, api.EventTypeWarning, eventFailedPostStartHook, "PostStartHook failed")
	w.killContainer(ctx, rec, gracePeriod(w.st.Pod), eventFailedPostStartHook)
	// It waits to restart: a sidecar always does, an app container per
	// the pod's restart policy.
	if rec.Exit != nil && (rec.Init && api.IsSidecar(c) || !rec.Init && shouldRestart(w.st.Pod.Spec.RestartPolicy, rec.Exit.ExitCode)) {
		rec.Waiting = &waitReason{Reason: reasonPostStartHookError, Message: msg}
	}
	return false
}

// stopInstance stops one running container as kubelet's killContainer:
// its preStop hook first, given at most the grace period, then (a sidecar)
// its turn: the containers in after have stopped, or the grace period is
// over; then SIGTERM, and SIGKILL once the rest of the grace period is
// over (at least minGraceAfterPreStop after a hook or a wait). A grace
// period of 0 skips the hook and the turn. It returns the hook's failure
// message, if it failed, for the caller to report (stopInstance runs on
// goroutines of its own, which may not touch the worker's events).
func (w *podWorker) stopInstance(ctx context.Context, rec *containerRecord, c *api.Container, grace time.Duration, after []<-chan struct{}) (hookFailure string, err error) {
	h := rec.inst.handle
	start := time.Now()
	waited := false
	if hasPreStop(c) && grace > 0 && !rec.inst.exited() {
		hookFailure = w.preStop(ctx, rec, c, grace)
		waited = true
	}
	if grace > 0 && len(after) > 0 {
		waitTurn(ctx, after, grace-time.Since(start))
		waited = true
	}
	if waited {
		grace = max(grace-time.Since(start), minGraceAfterPreStop)
	}
	return hookFailure, h.Stop(ctx, grace)
}

// waitTurn waits until every channel of after is closed, for at most d:
// kubelet's terminationOrdering.waitForTurn.
func waitTurn(ctx context.Context, after []<-chan struct{}, d time.Duration) {
	if d <= 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for _, ch := range after {
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// preStop runs the container's preStop hook for at most grace, kubelet's
// executePreStopHook: past grace the hook is abandoned (its context ends
// when the container's instance does, or the step's), and the stop goes
// on. It returns kubelet's failure message, "" on success or time out.
func (w *podWorker) preStop(ctx context.Context, rec *containerRecord, c *api.Container, grace time.Duration) string {
	hctx, cancel := context.WithCancel(ctx)
	type result struct {
		msg string
		err error
	}
	done := make(chan result, 1)
	target, pod, unit, inst := w.hookTarget(c), w.st.Pod, w.r.probeUnit, rec.inst
	w.r.wg.Go(func() {
		defer cancel()
		// The hook stops when the container does, whatever the grace.
		go func() {
			select {
			case <-inst.done:
				cancel()
			case <-hctx.Done():
			}
		}()
		msg, err := runHook(hctx, target, pod, c.Lifecycle.PreStop, unit)
		done <- result{msg, err}
	})
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			w.log.Warn("preStop hook failed", "container", c.Name, "err", r.err)
			return "PreStopHook failed"
		}
		return ""
	case <-timer.C:
		w.log.Info("preStop hook not completed in grace period", "container", c.Name, "grace", grace)
	case <-ctx.Done():
	}
	return ""
}
