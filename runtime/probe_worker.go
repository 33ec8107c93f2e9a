package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
)

// Probes run as kubelet's prober manager runs them: one worker goroutine
// per container instance and probe type, asleep on a timer between
// probes, stopped (by its context) when the instance exits or the
// runtime stops. A worker writes its results to the instance's
// containerProbes and wakes the pod's worker only when a result changes
// or there is an event to report, so that a healthy pod costs one probe
// per period and nothing else. The pod's worker reads the results at each
// step: readiness makes the container ready (and with it the pod's Ready
// and ContainersReady conditions), a liveness failure, or a startup
// failure, kills the container, which restarts per the pod's restart
// policy and back-off.

// probeType is kubelet's: which of a container's probes.
type probeType int

const (
	liveness probeType = iota
	readiness
	startup
	numProbeTypes
)

// String is the probe's name as kubelet's events start with it.
func (t probeType) String() string {
	switch t {
	case liveness:
		return "Liveness"
	case readiness:
		return "Readiness"
	}
	return "Startup"
}

// probeResult is kubelet's results.Result.
type probeResult int

const (
	resultUnknown probeResult = iota
	resultSuccess
	resultFailure
)

// initialResult is kubelet's value of a probe's result before its first
// decision: a container is not ready, is alive, and has not started.
func initialResult(t probeType) probeResult {
	switch t {
	case readiness:
		return resultFailure
	case liveness:
		return resultSuccess
	}
	return resultUnknown
}

// maxProbeRetries is how many times a probe that errors (could not be
// run, as opposed to failed) is tried before its result is thrown away,
// kubelet's.
const maxProbeRetries = 3

// Event reasons of probes, kubelet's.
const (
	eventUnhealthy    = "Unhealthy"
	eventProbeWarning = "ProbeWarning"
)

// maxProbeEvents bounds the events a container's probes keep for the pod
// worker; the oldest go first.
const maxProbeEvents = 16

// A container's probes report at most probeEventBurst events, then one
// per probeEventRefill: kubelet's event spam filter (a burst of 25 per
// object, then one every 5 minutes), so that a probe failing for days
// does not write an event into the cluster state every period.
const (
	probeEventBurst  = 25
	probeEventRefill = 5 * time.Minute
)

// probeTiming is a probe's schedule and thresholds, its seconds turned
// into durations by the runtime's probe time unit (a second, shorter in
// tests).
type probeTiming struct {
	initialDelay, period, timeout      time.Duration
	successThreshold, failureThreshold int
	// jitter delays the first probe by a random part of the period, as
	// kubelet does when it started less than a period ago: probes of pods
	// re-adopted together do not all run at once.
	jitter bool
}

func timingOf(p *api.Probe, unit time.Duration) probeTiming {
	return probeTiming{
		initialDelay:     time.Duration(p.InitialDelaySeconds) * unit,
		period:           time.Duration(max(p.PeriodSeconds, 1)) * unit,
		timeout:          time.Duration(max(p.TimeoutSeconds, 1)) * unit,
		successThreshold: int(max(p.SuccessThreshold, 1)),
		failureThreshold: int(max(p.FailureThreshold, 1)),
	}
}

// probeEvent is an event a probe worker reports through the pod worker.
type probeEvent struct {
	typ, reason, message string
}

// containerProbes are the probe results of one container instance:
// written by its probe workers, read by the pod's worker. It is safe for
// concurrent use.
type containerProbes struct {
	// poke wakes the pod's worker.
	poke func()
	// readinessNow makes the readiness worker probe at once (after the
	// startup probe succeeded), kubelet's manual trigger.
	readinessNow chan struct{}

	mu       sync.Mutex
	has      [numProbeTypes]bool
	results  [numProbeTypes]probeResult
	events   []probeEvent
	deleting bool
	// spent and refilled are the spam filter's state: events over the
	// burst, and when the latest token came back.
	spent    int
	refilled time.Time
}

// probeView is what the pod's worker uses of a running container's
// probes; the zero value is a container without probes (started, ready,
// healthy).
type probeView struct {
	// notStarted: a startup probe has not succeeded yet.
	notStarted bool
	// notReady: the readiness probe has not succeeded, or failed since.
	notReady bool
	// failed is the probe (liveness or startup) whose failure must kill
	// the container, or -1.
	failed probeType
	// killing is set when failed is meaningful.
	killing bool
}

func (cp *containerProbes) view() probeView {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	v := probeView{
		notStarted: cp.has[startup] && cp.results[startup] != resultSuccess,
		notReady:   cp.has[readiness] && cp.results[readiness] != resultSuccess,
	}
	for _, t := range []probeType{liveness, startup} {
		if cp.has[t] && cp.results[t] == resultFailure {
			v.failed, v.killing = t, true
			break
		}
	}
	return v
}

// started reports whether the container counts as started: no startup
// probe, or it succeeded.
func (cp *containerProbes) started() bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return !cp.has[startup] || cp.results[startup] == resultSuccess
}

// set records a probe's new result, and wakes the pod's worker if it
// changed.
func (cp *containerProbes) set(t probeType, r probeResult) {
	cp.mu.Lock()
	changed := cp.results[t] != r
	cp.results[t] = r
	cp.mu.Unlock()
	if !changed {
		return
	}
	if t == startup && r == resultSuccess {
		select {
		case cp.readinessNow <- struct{}{}:
		default:
		}
	}
	cp.poke()
}

// event queues an event for the pod's worker and wakes it, unless the
// spam filter drops it.
func (cp *containerProbes) event(typ, reason, format string, args ...any) {
	cp.mu.Lock()
	now := time.Now()
	if cp.spent >= probeEventBurst {
		back := int(now.Sub(cp.refilled) / probeEventRefill)
		if back == 0 {
			cp.mu.Unlock()
			return
		}
		cp.spent = max(cp.spent-back, 0)
		cp.refilled = cp.refilled.Add(time.Duration(back) * probeEventRefill)
	}
	if cp.spent == 0 {
		cp.refilled = now
	}
	cp.spent++
	if len(cp.events) >= maxProbeEvents {
		cp.events = cp.events[1:]
	}
	cp.events = append(cp.events, probeEvent{typ, reason, fmt.Sprintf(format, args...)})
	cp.mu.Unlock()
	cp.poke()
}

func (cp *containerProbes) takeEvents() []probeEvent {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	out := cp.events
	cp.events = nil
	return out
}

// markDeleting tells the workers the pod is being deleted: liveness and
// startup stop (with a success, for a quiet shutdown), as kubelet's do.
func (cp *containerProbes) markDeleting() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.deleting = true
}

func (cp *containerProbes) isDeleting() bool {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.deleting
}

// probeWorker probes one container instance for one probe type, kubelet's
// prober worker.
type probeWorker struct {
	typ       probeType
	probe     *api.Probe
	timing    probeTiming
	target    *probeTarget
	set       *containerProbes
	startedAt time.Time
	log       *slog.Logger

	// lastResult and resultRun count the same results in a row, for the
	// thresholds.
	lastResult probeResult
	resultRun  int
}

// run probes until ctx ends (the instance exited, the runtime stops) or
// the worker has nothing more to decide: startup succeeded, or a
// liveness or startup failure will kill the instance (kubelet's on-hold;
// the next instance gets new workers). trigger, if not nil, asks for a
// probe now.
func (pw *probeWorker) run(ctx context.Context, trigger <-chan struct{}) {
	wait := pw.untilDelayEnds()
	if pw.timing.jitter {
		wait = max(wait, rand.N(pw.timing.period))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-trigger:
		}
		if !pw.doProbe(ctx) {
			return
		}
		// The next probe a period from now, or when the initial delay
		// ends if a trigger came before. Since Go 1.23, Reset discards a
		// pending expiry: no drain.
		next := pw.timing.period
		if d := pw.untilDelayEnds(); d > 0 {
			next = d
		}
		timer.Reset(next)
	}
}

// untilDelayEnds is how long the initial delay still runs, 0 once over.
func (pw *probeWorker) untilDelayEnds() time.Duration {
	return max(time.Until(pw.startedAt.Add(pw.timing.initialDelay)), 0)
}

// doProbe is kubelet's worker.doProbe for a running instance: probe once
// and record the result once it held for its threshold. It returns whether
// to keep probing.
func (pw *probeWorker) doProbe(ctx context.Context) bool {
	if pw.typ != readiness && pw.set.isDeleting() {
		pw.set.set(pw.typ, resultSuccess)
		return false
	}
	if pw.untilDelayEnds() > 0 {
		return true
	}
	started := pw.set.started()
	if pw.typ == startup && started {
		return false
	}
	if pw.typ != startup && !started {
		return true // liveness and readiness wait for startup
	}
	result, err := pw.probeOnce(ctx)
	if err != nil || ctx.Err() != nil {
		return ctx.Err() == nil // an error throws the result away
	}
	if result == pw.lastResult {
		pw.resultRun++
	} else {
		pw.lastResult, pw.resultRun = result, 1
	}
	if result == resultFailure && pw.resultRun < pw.timing.failureThreshold ||
		result == resultSuccess && pw.resultRun < pw.timing.successThreshold {
		return true
	}
	pw.set.set(pw.typ, result)
	if result == resultFailure && pw.typ != readiness {
		return false // the instance will be killed
	}
	return true
}

// probeOnce runs the handler (again while it errors, up to
// maxProbeRetries) and reports as kubelet's prober.probe: events in its
// words, a warning counted as a success.
func (pw *probeWorker) probeOnce(ctx context.Context) (probeResult, error) {
	var (
		outcome probeOutcome
		output  string
		err     error
	)
	for range maxProbeRetries {
		outcome, output, err = pw.target.run(ctx, pw.probe, pw.timing.timeout)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		return resultUnknown, ctx.Err() // the instance is gone: say nothing
	}
	if err != nil {
		pw.log.Debug("probe errored", "probe", pw.typ.String(), "err", err)
		pw.set.event(api.EventTypeWarning, eventUnhealthy, "%s probe errored and resulted in %s state: %s", pw.typ, outcome, err)
		return resultUnknown, err
	}
	switch outcome {
	case outcomeSuccess:
		return resultSuccess, nil
	case outcomeWarning:
		pw.set.event(api.EventTypeWarning, eventProbeWarning, "%s probe warning: %s", pw.typ, output)
		return resultSuccess, nil
	case outcomeFailure:
		pw.set.event(api.EventTypeWarning, eventUnhealthy, "%s probe failed: %s", pw.typ, output)
		return resultFailure, nil
	}
	return resultUnknown, nil
}

// containerProbesOf returns the container's probes by type (only app
// containers and sidecars may have them).
func containerProbesOf(c *api.Container) [numProbeTypes]*api.Probe {
	return [numProbeTypes]*api.Probe{liveness: c.LivenessProbe, readiness: c.ReadinessProbe, startup: c.StartupProbe}
}

// startProbes starts the probe workers of the container's instance that
// just started (or was re-adopted), until it ends; without probes, the
// instance's probes stay nil.
func (w *podWorker) startProbes(rec *containerRecord) {
	startedAt := rec.StartedAt
	if startedAt.IsZero() {
		startedAt = time.Now()
	}
	rec.inst.probes = w.probesOf(rec.inst.ctx, rec, startedAt)
}

// probesOf starts the probe workers of a container instance, until ctx
// ends with it; nil if the container has no probes.
func (w *podWorker) probesOf(ctx context.Context, rec *containerRecord, startedAt time.Time) *containerProbes {
	// A copy: the worker's spec may be replaced while the probes run.
	var spec *api.Container
	if c := w.containerSpec(rec); c != nil && (!rec.Init || api.IsSidecar(c)) {
		cp := *c
		spec = &cp
	}
	if spec == nil {
		return nil
	}
	probes := containerProbesOf(spec)
	cp := &containerProbes{poke: w.poke, readinessNow: make(chan struct{}, 1)}
	anyProbe := false
	for t, p := range probes {
		if p != nil {
			cp.has[t], cp.results[t] = true, initialResult(probeType(t))
			anyProbe = true
		}
	}
	if !anyProbe {
		return nil
	}
	target := newProbeTarget(w.sb, spec, w.st.PodIP)
	for t, p := range probes {
		if p == nil {
			continue
		}
		pw := &probeWorker{
			typ:       probeType(t),
			probe:     p,
			timing:    timingOf(p, w.r.probeUnit),
			target:    target,
			set:       cp,
			startedAt: startedAt,
			log:       w.log.With("container", rec.Name),
		}
		pw.timing.jitter = pw.timing.period > time.Since(w.r.startedAt)
		var trigger <-chan struct{}
		if pw.typ == readiness {
			trigger = cp.readinessNow
		}
		w.r.wg.Go(func() { pw.run(ctx, trigger) })
	}
	return cp
}

// collectProbes brings what the probes found into the pod's state: each
// running container's probe view (for the plan and the status) and the
// probes' events. A pod being deleted stops its liveness and startup
// probes.
func (w *podWorker) collectProbes() {
	deleting := w.st.Pod.DeletionTimestamp != nil
	for _, rec := range w.allRecords() {
		rec.probe = probeView{}
		if rec.inst == nil || rec.inst.probes == nil {
			continue
		}
		p := rec.inst.probes
		if deleting {
			p.markDeleting()
		}
		for _, e := range p.takeEvents() {
			w.events.record(w.st.Pod, e.typ, e.reason, "%s", e.message)
		}
		if rec.Running {
			rec.probe = p.view()
		}
	}
}

// probeKill says whether a running container must be killed for a failed
// probe, with kubelet's Killing message and the grace period (the probe's
// terminationGracePeriodSeconds, else the pod's).
func probeKill(c *api.Container, v probeView, policy api.RestartPolicy) (string, *time.Duration, bool) {
	if !v.killing {
		return "", nil, false
	}
	p := c.LivenessProbe
	msg := fmt.Sprintf("Container %s failed liveness probe", c.Name)
	if v.failed == startup {
		p = c.StartupProbe
		msg = fmt.Sprintf("Container %s failed startup probe", c.Name)
	}
	if policy != api.RestartPolicyNever {
		msg += ", will be restarted"
	}
	var grace *time.Duration
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		g := time.Duration(max(*p.TerminationGracePeriodSeconds, 0)) * time.Second
		grace = &g
	}
	return msg, grace, true
}
