package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
)

// volumeRetry is how soon a pod whose volumes or sandbox could not be set
// up tries again.
const volumeRetry = 2 * time.Second

// syncPod brings the pod one step closer to its spec, as kubelet's SyncPod
// does: it plans (computePodActions), then carries the plan out in this
// order:
//
//	Step 1: kill the pod (every container, then the sandbox) if the plan
//	        says so: its sandbox died, or it has finished; then kill the
//	        containers whose spec changed.
//	Step 2: set up the pod's volumes.
//	Step 3: create the sandbox if there is none.
//	Step 4: show the containers held back by their back-off as waiting.
//	Step 5: start the next init container, or restart sidecars.
//	Step 6: start the app containers.
//
// It returns when the worker must sync again at the latest (a back-off
// ends, a retry is due), or zero if only an event can change anything.
func (w *podWorker) syncPod(ctx context.Context) time.Time {
	st := w.st
	now := w.r.now()
	if st.StartTime.IsZero() && !st.Terminal {
		st.StartTime = now
	}
	acts := computePodActions(st, w.sandboxState(), now, w.r.backoff)
	next := acts.NextSync
	sooner := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}

	// Step 1: kill what must not run.
	if acts.KillPod {
		if w.sandboxState() == sandboxDead {
			w.events.record(st.Pod, api.EventTypeNormal, eventSandboxChanged,
				"Pod sandbox changed, it will be killed and re-created.")
		}
		grace := time.Duration(0)
		if acts.Graceful {
			grace = gracePeriod(st.Pod)
		}
		err := w.killPod(ctx, grace)
		w.killFailed = err != nil
		if err != nil {
			w.log.Warn("killing pod", "err", err)
			return now.Add(volumeRetry)
		}
	}
	if acts.Terminal {
		st.Terminal = true
		for _, rec := range w.allRecords() {
			rec.Waiting = nil
		}
		// kubelet tears down a terminated pod's volumes: the memory its
		// tmpfs volumes hold (emptyDirs of medium Memory, Secrets,
		// projected) goes back to the node, which is what evicting a pod
		// under memory pressure is for. The files on disk stay until the
		// pod is deleted.
		if err := unmountUnder(filepath.Join(w.podDir(), "volumes")); err != nil {
			w.log.Warn("unmounting the volumes of a terminated pod", "err", err)
			return now.Add(volumeRetry)
		}
		return time.Time{}
	}
	if acts.Resync {
		return now
	}
	for _, k := range acts.KillContainers {
		grace := gracePeriod(st.Pod)
		if k.Grace != nil {
			grace = *k.Grace
		}
		w.killContainer(ctx, w.record(k.Init, k.Index), grace, k.Message)
		if k.Probe {
			sooner(now) // plan its restart with its exit known
		}
	}

	// Step 2: volumes, before anything that could use them starts.
	if acts.CreateSandbox || len(acts.StartInits) > 0 || len(acts.StartContainers) > 0 {
		if err := w.setupVolumes(); err != nil {
			w.events.record(st.Pod, api.EventTypeWarning, eventFailedMount, "%v", err)
			w.log.Warn("setting up volumes", "err", err)
			return now.Add(volumeRetry)
		}
	}

	// Step 3: the sandbox.
	if acts.CreateSandbox {
		if err := w.createSandbox(ctx); err != nil {
			if ctx.Err() == nil {
				w.events.record(st.Pod, api.EventTypeWarning, eventFailedCreatePod,
					"Failed to create pod sandbox: %v", err)
				w.log.Warn("creating sandbox", "err", err)
			}
			return now.Add(volumeRetry)
		}
	}

	// Step 4: containers held back by their back-off.
	for _, wa := range acts.Waits {
		rec := w.record(wa.Init, wa.Index)
		rec.Waiting = &wa.Waiting
		w.events.record(st.Pod, api.EventTypeWarning, eventBackOff, "%s", wa.Event)
	}

	// Step 5: the next init container (the app containers are not
	// planned before the init containers are done), or sidecars that
	// exited. The container after a sidecar may start as soon as it has
	// started: plan again at once.
	if len(acts.StartInits) > 0 {
		sooner(w.start(ctx, true, acts.StartInits))
		for _, s := range acts.StartInits {
			if rec := st.InitContainers[s.Index]; rec.Running && api.IsSidecar(&st.Pod.Spec.InitContainers[s.Index]) {
				sooner(now)
			}
		}
	}

	// Step 6: the app containers, started together.
	sooner(w.start(ctx, false, acts.StartContainers))

	// Volumes written from the state follow it while the pod runs
	// (kubelet's periodic remount); unchanged files are not rewritten.
	if w.sb != nil && w.resyncProjected() {
		sooner(now.Add(projectedResync))
	}
	return next
}

// record returns the record of an init or app container by index.
func (w *podWorker) record(init bool, i int) *containerRecord {
	if init {
		return w.st.InitContainers[i]
	}
	return w.st.Containers[i]
}

// allRecords lists the init containers' records, then the app
// containers'.
func (w *podWorker) allRecords() []*containerRecord {
	out := make([]*containerRecord, 0, len(w.st.InitContainers)+len(w.st.Containers))
	out = append(out, w.st.InitContainers...)
	return append(out, w.st.Containers...)
}

// createSandbox creates a new sandbox for the pod, a new generation: every
// container starts again in it. The pod record is written first, so that
// a crash right after leaves a sandbox the next agent knows to be this
// pod's.
func (w *podWorker) createSandbox(ctx context.Context) error {
	if err := w.waitForCleanup(ctx); err != nil {
		return err
	}
	pod := w.st.Pod
	seccomp, err := w.r.cfg.seccompFor(pod, nil)
	if err != nil {
		return err
	}
	w.st.SandboxGen++
	w.persist()
	sb, err := w.r.sandbox.CreateSandbox(ctx, sandboxSpec{
		ID:        string(pod.UID),
		Name:      pod.Name,
		Namespace: pod.Namespace,
		Hostname:  hostname(pod),
		// hostPID wins over shareProcessNamespace, as in kubelet (the API
		// refuses the pair).
		SharePID:     !pod.Spec.HostPID && pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace,
		HostNetwork:  pod.Spec.HostNetwork,
		HostPID:      pod.Spec.HostPID,
		HostIPC:      pod.Spec.HostIPC,
		ShmSizeBytes: defaultShmSize,
		HostPorts:    hostPorts(pod),
		Seccomp:      seccomp,
		// Allocated with the volumes, which come first.
		UserNamespace: w.st.UserNamespace,
	})
	if err != nil {
		return err
	}
	w.sb = sb
	w.st.PodIP = sb.IP()
	if pod.Spec.HostNetwork {
		// The node's address, as kubelet reports a hostNetwork pod's IPs.
		w.st.PodIP = w.r.cfg.HostIP
	}
	w.persist()
	// /etc/hosts names the pod's own address, known only now; the
	// containers, which mount it, start after this.
	if err := w.writeManagedFiles(); err != nil {
		return fmt.Errorf("write the pod's /etc/hosts: %w", err)
	}
	return nil
}

// hostPorts lists the pod's containers' and sidecars' host ports for the
// pod network; none on the host's network, where a container's port is
// the node's already.
func hostPorts(pod *api.Pod) []hostPort {
	if pod.Spec.HostNetwork {
		return nil
	}
	var out []hostPort
	for _, c := range api.PodLongRunningContainers(pod) {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				out = append(out, hostPort{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: strings.ToLower(string(p.Protocol))})
			}
		}
	}
	return out
}

// defaultShmSize is the size of a pod's /dev/shm, docker's and
// Kubernetes' 64 MiB.
const defaultShmSize = 64 << 20

// waitForCleanup holds a new sandbox back until the leftovers of the pods
// that are gone are removed (after an agent restart).
func (w *podWorker) waitForCleanup(ctx context.Context) error {
	select {
	case <-w.r.cleaned:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("waiting for the removal of pods that are gone"), ctx.Err())
	}
}
