package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/image"
)

// startJob is one container on its way to running: prepared by the
// worker, started by the sandbox, then recorded by the worker.
type startJob struct {
	act  startAction
	rec  *containerRecord
	c    *api.Container
	img  *image.Image
	spec containerSpec
	h    podContainer
	err  error
}

// start starts containers, init or app (one helper for both, as kubelet's
// startContainer), and returns when to try again (an image or start
// back-off), or zero. It works in three passes:
//
//   - prepare, one container after the other: the image per its pull
//     policy, the command resolved against it, the log file, the previous
//     instance removed;
//   - start the processes, all at once: that is the slow part (tens of
//     milliseconds each), and the sandbox starts containers in parallel;
//   - record, in spec order: events, records, a watch on each process.
//
// Failures leave a container waiting with Kubernetes' reason. Only the
// middle pass runs outside the worker goroutine, and it touches no state.
func (w *podWorker) start(ctx context.Context, init bool, acts []startAction) time.Time {
	var retry time.Time
	sooner := func(t time.Time) {
		if !t.IsZero() && (retry.IsZero() || t.Before(retry)) {
			retry = t
		}
	}
	var jobs []*startJob
	for _, act := range acts {
		if ctx.Err() != nil {
			return retry
		}
		job, t := w.prepareStart(ctx, init, act)
		sooner(t)
		if job != nil {
			jobs = append(jobs, job)
		}
	}

	for len(jobs) > 0 && ctx.Err() == nil {
		batch := nextBatch(jobs)
		jobs = jobs[len(batch):]
		var wg sync.WaitGroup
		for _, job := range batch {
			wg.Go(func() { job.h, job.err = w.sb.StartContainer(ctx, job.spec) })
		}
		wg.Wait()

		for _, job := range batch {
			if job.err != nil {
				if ctx.Err() == nil { // else interrupted by a deletion: not the container's fault
					sooner(w.startFailed(job.rec, job.c, job.act, job.err))
				}
				continue
			}
			w.started(job)
		}
		// The batch's last container may have a postStart hook: the next
		// batch waits for it, as kubelet starts containers one by one.
		if last := batch[len(batch)-1]; last.err == nil && hasPostStart(last.c) {
			if w.postStart(ctx, last.rec, last.c) {
				w.startProbes(last.rec)
			}
		}
	}
	return retry
}

// nextBatch is the jobs that may start together: up to the first
// container with a postStart hook, included. kubelet starts a pod's
// containers one after the other, each start complete (postStart
// returned) before the next; without hooks that order is invisible, and
// starting them together is much faster.
func nextBatch(jobs []*startJob) []*startJob {
	for i, job := range jobs {
		if hasPostStart(job.c) {
			return jobs[:i+1]
		}
	}
	return jobs
}

// prepareStart makes one container ready to start; nil (and when to try
// again) if it cannot start now.
func (w *podWorker) prepareStart(ctx context.Context, init bool, act startAction) (*startJob, time.Time) {
	pod := w.st.Pod
	job := &startJob{act: act, rec: w.record(init, act.Index)}
	if init {
		job.c = &pod.Spec.InitContainers[act.Index]
	} else {
		job.c = &pod.Spec.Containers[act.Index]
	}
	rec, c := job.rec, job.c

	img, retry := w.ensureImage(ctx, rec, c)
	if img == nil {
		return nil, retry
	}
	job.img = img
	// kubelet's makeEnvironmentVariables: the service variables, under
	// envFrom's, under the container's own env; read once, now.
	cenv, warnings, err := makeEnv(w.envSources(), c, w.serviceEnv())
	if err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	for _, wr := range warnings {
		w.events.record(pod, api.EventTypeWarning, wr.reason, "%s", wr.message)
	}
	withEnv := *c
	withEnv.Env, withEnv.EnvFrom = cenv, nil
	argv, env, workDir, err := image.ResolveCommand(img, &withEnv)
	if err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	spec := containerSpec{
		Name:       c.Name,
		LowerDirs:  img.LayerDirs(),
		Args:       argv,
		Env:        env,
		WorkingDir: workDir,
	}
	// kubelet's determineEffectiveSecurityContext and verifyRunAsNonRoot.
	if spec.Security, err = containerSecurity(pod, c, img.Config.User); err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	if spec.Mounts, err = w.containerMounts(c); err != nil {
		retry := w.startFailed(rec, c, act, err)
		rec.Waiting.Reason = reasonCreateContainerConfigErr // kubelet's ErrCreateContainerConfig
		return nil, retry
	}
	if spec.Seccomp, err = w.r.cfg.seccompFor(pod, c); err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	if spec.AppArmorProfile, err = appArmorFor(w.r.cfg.AppArmor, pod, c); err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	if rec.Started {
		spec.Attempt = int(rec.RestartCount) + 1
	}
	limits := api.ResourcesOf(c.Resources.Limits)
	spec.MemoryLimitBytes = limits.Memory
	spec.MilliCPULimit = limits.MilliCPU
	spec.MilliCPURequest = api.ResourcesOf(c.Resources.Requests).MilliCPU
	spec.StdoutPath, err = w.prepareLog(c.Name, spec.Attempt)
	if err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	// The previous instance, if any, makes room for the new one.
	if err := w.removeInstance(ctx, rec); err != nil {
		return nil, w.startFailed(rec, c, act, err)
	}
	job.spec = spec
	return job, time.Time{}
}

// started records a container whose process runs, and watches it.
func (w *podWorker) started(job *startJob) {
	rec, c, h := job.rec, job.c, job.h
	w.events.record(w.st.Pod, api.EventTypeNormal, eventCreated, "Created container %s", c.Name)
	w.events.record(w.st.Pod, api.EventTypeNormal, eventStarted, "Started container %s", c.Name)
	if job.act.Backoff != nil {
		rec.Backoff = *job.act.Backoff
	}
	if rec.Exit != nil {
		rec.Last = rec.Exit
	}
	rec.Exit = nil
	rec.Waiting = nil
	rec.FailedAt = time.Time{}
	rec.Started = true
	rec.Running = true
	rec.RestartCount = int32(job.spec.Attempt)
	rec.Gen = w.st.SandboxGen
	rec.Hash = containerHash(c)
	rec.ID = h.ID()
	rec.Image = job.img.Reference
	rec.ImageID = imageID(job.img)
	rec.StartedAt = h.StartedAt()
	if rec.StartedAt.IsZero() {
		rec.StartedAt = w.r.now()
	}
	w.watch(rec, h, !hasPostStart(c))
}

// imageID is what Kubernetes shows as a container's imageID: the
// repository digest of a pulled image, else the image's ID.
func imageID(img *image.Image) string {
	if img.RepoDigest != "" {
		return img.RepoDigest
	}
	return img.ID
}

// startFailed records a start that failed before the process ran:
// CreateContainerError, retried under the container's back-off, and
// returns when to retry.
func (w *podWorker) startFailed(rec *containerRecord, c *api.Container, act startAction, err error) time.Time {
	if act.Backoff != nil {
		rec.Backoff = *act.Backoff
	} else {
		rec.Backoff = w.r.backoff.next(rec.Backoff, w.r.now())
	}
	rec.FailedAt = w.r.now()
	reason := reasonCreateContainerError
	if _, ok := errors.AsType[*configError](err); ok {
		reason = reasonCreateContainerConfigError
	}
	rec.Waiting = &waitReason{Reason: reason, Message: err.Error()}
	w.events.record(w.st.Pod, api.EventTypeWarning, eventFailed, "Error: %v", err)
	w.log.Warn("starting container", "container", c.Name, "err", err)
	return rec.FailedAt.Add(rec.Backoff.Delay)
}

// ensureImage makes the container's image available per its pull policy,
// reporting Pulling/Pulled as kubelet does; a pull authenticates with the
// pod's image pull Secrets (see pullSecrets). On failure the container waits
// with ErrImagePull (then ImagePullBackOff until the image's back-off
// ends), ErrImageNeverPull or InvalidImageName, and ensureImage returns
// nil and when to try again.
func (w *podWorker) ensureImage(ctx context.Context, rec *containerRecord, c *api.Container) (*image.Image, time.Time) {
	pod := w.st.Pod
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = api.DefaultPullPolicy(c.Image)
	}
	if img, ok := w.r.images.Get(c.Image); ok && (policy != api.PullAlways || localOnly(c.Image)) {
		w.events.record(pod, api.EventTypeNormal, eventPulled, "Container image %q already present on machine", c.Image)
		return img, time.Time{}
	}
	if policy == api.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		rec.Waiting = &waitReason{Reason: image.ReasonErrImageNeverPull, Message: msg}
		w.events.record(pod, api.EventTypeWarning, eventErrImageNeverPull, "%s", msg)
		// Loading the image wakes the worker; retry slowly regardless.
		return nil, w.r.now().Add(w.r.backoff.Max)
	}
	now := w.r.now()
	entry := w.st.ImageBackoff[c.Image]
	if until, wait := w.r.backoff.wait(entry, entry.LastUpdate, now); wait {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		rec.Waiting = &waitReason{Reason: reasonImagePullBackOff, Message: msg}
		w.events.record(pod, api.EventTypeNormal, eventBackOff, "%s", msg)
		return nil, until
	}

	secrets := w.pullSecrets()
	w.events.record(pod, api.EventTypeNormal, eventPulling, "Pulling image %q", c.Image)
	w.flush() // a pull can take long: show Pulling and the pod's state now
	start := time.Now()
	keyring, err := w.pullKeyring(secrets)
	var img *image.Image
	if err == nil {
		img, err = w.r.images.Pull(ctx, c.Image, policy, keyring)
	} else {
		err = fmt.Errorf("failed to pull image %q: %w", c.Image, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, time.Time{} // interrupted by a deletion
		}
		reason := image.Reason(err)
		if reason == "" {
			reason = image.ReasonErrImagePull
		}
		rec.Waiting = &waitReason{Reason: reason, Message: err.Error()}
		w.events.record(pod, api.EventTypeWarning, eventFailed, "Failed to pull image %q: %v", c.Image, err)
		w.events.record(pod, api.EventTypeWarning, eventFailed, "Error: %s", reason)
		if w.st.ImageBackoff == nil {
			w.st.ImageBackoff = map[string]backoffEntry{}
		}
		entry = w.r.backoff.next(entry, now)
		w.st.ImageBackoff[c.Image] = entry
		// Look again before the back-off ends, to show ImagePullBackOff
		// for the rest of it, as kubelet's next sync would.
		return nil, now.Add(entry.Delay / 4)
	}
	delete(w.st.ImageBackoff, c.Image)
	took := time.Since(start).Round(time.Millisecond)
	w.events.record(pod, api.EventTypeNormal, eventPulled, "Successfully pulled image %q in %s (%s including waiting)", c.Image, took, took)
	return img, time.Time{}
}

// localOnly reports whether ref names the pseudo-registry "localhost"
// without a port: such an image exists only once loaded, and even under
// pull policy Always there is no registry to ask.
func localOnly(ref string) bool {
	n, err := image.Normalize(ref)
	return err == nil && strings.HasPrefix(n, "localhost/")
}

// watch starts following a container instance: a goroutine waits for its
// exit, records it and wakes the worker; the instance's probes run until
// that exit (from now if probes is set; a container with a postStart hook
// is probed once its hook succeeded, see startProbes). It all stops with
// the runtime.
func (w *podWorker) watch(rec *containerRecord, h podContainer, probes bool) {
	inst := &instance{handle: h, done: make(chan struct{})}
	rec.inst = inst
	rctx := w.r.ctx
	ctx, cancel := context.WithCancel(rctx)
	inst.ctx = ctx
	w.r.wg.Go(func() {
		defer cancel() // stops the probes
		es, err := h.Wait(ctx)
		if rctx.Err() != nil {
			return // the runtime stops; the next one adopts the container
		}
		inst.exit, inst.waitErr = es, err
		close(inst.done)
		w.poke()
	})
	if probes {
		w.startProbes(rec)
	}
}

// collectExits records the exits of the instances that ended.
func (w *podWorker) collectExits() {
	for _, rec := range w.allRecords() {
		if rec.Running && rec.inst != nil && rec.inst.exited() {
			rec.Running = false
			rec.Exit = terminationOf(rec.inst.exit, rec.inst.waitErr, rec.StartedAt, w.r.now())
			rec.Waiting = nil
			w.log.Info("container exited", "container", rec.Name, "exitCode", rec.Exit.ExitCode, "reason", rec.Exit.Reason)
		}
	}
}

// terminationOf turns how a process ended into Kubernetes' terminated
// state: OOMKilled (137) when the memory limit killed it, Completed for 0,
// Error otherwise, and ContainerStatusUnknown (137) when the exit could
// not be observed (an adopted container: see runtime/container).
func terminationOf(es exitStatus, waitErr error, startedAt, now time.Time) *termination {
	t := &termination{
		ExitCode:   int32(es.Code),
		Signal:     int32(es.Signal),
		StartedAt:  startedAt,
		FinishedAt: es.FinishedAt,
	}
	if t.FinishedAt.IsZero() {
		t.FinishedAt = now
	}
	if t.ExitCode == 0 && es.Signal > 0 {
		t.ExitCode = 128 + int32(es.Signal) // the shell's convention, as containerd reports it
	}
	switch {
	case waitErr != nil:
		t.ExitCode, t.Reason = 137, reasonStatusUnknown
		t.Message = "The container's end could not be observed: " + waitErr.Error()
	case es.OOMKilled:
		t.Reason = reasonOOMKilled
		if t.ExitCode == 0 {
			t.ExitCode = 137
		}
	case es.Unknown:
		t.ExitCode, t.Reason = 137, reasonStatusUnknown
		t.Message = "The container ended while the agent was restarting; its exit code could not be observed"
	case t.ExitCode == 0:
		t.Reason = reasonCompleted
	default:
		t.Reason = reasonError
	}
	return t
}

// removeInstance removes the container's previous instance in the current
// sandbox, if any, so that a new one can take its name. Not knowing of one
// is not proof there is none (an agent may have crashed between starting
// a container and recording it), so the sandbox is asked.
func (w *podWorker) removeInstance(ctx context.Context, rec *containerRecord) error {
	var h podContainer
	if rec.inst != nil && rec.Gen == w.st.SandboxGen {
		h = rec.inst.handle
	} else {
		var err error
		h, err = w.sb.Container(rec.Name)
		if errors.Is(err, errNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if err := h.Remove(ctx); err != nil && !errors.Is(err, errNotFound) {
		return fmt.Errorf("remove previous instance of %s: %w", rec.Name, err)
	}
	return nil
}

// Sentinels the backends' errors wrap, for errors.Is: "no such sandbox or
// container", and "not running" (cannot be signalled or exec'd into).
var (
	errNotFound   = errors.New("not found")
	errNotRunning = errors.New("not running")
)

// ensureDir creates a directory with its parents.
func ensureDir(dir string) error { return os.MkdirAll(dir, 0o755) }
