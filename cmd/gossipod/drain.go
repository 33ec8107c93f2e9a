package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// evictionRetryDelay is how long drain waits before asking again for an
// eviction the server refused with 429 (kubectl's EvictionRetryDelay);
// drainPollInterval how often it checks whether an evicted pod is gone.
// Variables so that tests can shorten them.
var (
	evictionRetryDelay = 5 * time.Second
	drainPollInterval  = time.Second
)

func cordonCommand() *cli.Command {
	return &cli.Command{
		Name:      "cordon",
		Usage:     "mark nodes unschedulable: no new pod is placed on them",
		ArgsUsage: "NODE...",
		Action:    func(c *cli.Context) error { return runCordon(c, true) },
	}
}

func uncordonCommand() *cli.Command {
	return &cli.Command{
		Name:      "uncordon",
		Usage:     "mark nodes schedulable again",
		ArgsUsage: "NODE...",
		Action:    func(c *cli.Context) error { return runCordon(c, false) },
	}
}

func runCordon(c *cli.Context, unschedulable bool) error {
	nodes, err := nodeArgs(c)
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := cordon(c, cl, n, unschedulable); err != nil {
			return err
		}
	}
	return nil
}

// nodeArgs reads the NODE arguments (NAME or node/NAME) of cordon,
// uncordon and drain.
func nodeArgs(c *cli.Context) ([]string, error) {
	args, err := interspersed(c)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, usageError{errors.New("USAGE: " + c.App.Name + " " + c.Command.Name + " NODE")}
	}
	names := make([]string, 0, len(args))
	for _, a := range args {
		if t, name, ok := strings.Cut(a, "/"); ok {
			if resourceType(t) != resourceNodes || name == "" {
				return nil, usageError{fmt.Errorf("%q is not a node: give NODE or node/NODE", a)}
			}
			a = name
		}
		names = append(names, a)
	}
	return names, nil
}

// cordon sets a node's spec.unschedulable, saying so as kubectl does:
// `node/x cordoned`, or `node/x already cordoned` when nothing changes.
func cordon(c *cli.Context, cl *client.Client, name string, unschedulable bool) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	verb := "cordoned"
	if !unschedulable {
		verb = "uncordoned"
	}
	n, err := cl.Node(ctx, name)
	if err != nil {
		return statusError(err)
	}
	if n.Spec.Unschedulable == unschedulable {
		fmt.Fprintf(c.App.Writer, "node/%s already %s\n", name, verb)
		return nil
	}
	if _, err := cl.CordonNode(ctx, name, unschedulable); err != nil {
		return statusError(err)
	}
	fmt.Fprintf(c.App.Writer, "node/%s %s\n", name, verb)
	return nil
}

func drainCommand() *cli.Command {
	return &cli.Command{
		Name:  "drain",
		Usage: "cordon nodes, then evict their pods",
		Description: "As kubectl drain: the node is cordoned, then each of its pods is evicted\n" +
			"through the eviction API, which refuses (429, retried every 5s) while an\n" +
			"eviction would leave its Deployment with fewer than replicas − maxUnavailable\n" +
			"available pods; the Deployments replace the evicted pods on other nodes.\n" +
			"drain returns once the evicted pods are gone. Pods that no controller\n" +
			"manages are not replaced by anyone: drain refuses them without --force.\n\n" +
			"gossipod drain node-2\n" +
			"gossipod drain node-2 --force --timeout 5m",
		ArgsUsage: "NODE...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "also evict pods that no controller manages (they are not recreated)"},
			&cli.Int64Flag{Name: "grace-period", Value: -1, Usage: "seconds each pod gets to stop; -1: the pod's own"},
			&cli.DurationFlag{Name: "timeout", Usage: "how long to wait before giving up (0: forever)"},
			&cli.BoolFlag{Name: "delete-emptydir-data", Usage: "also evict pods with emptyDir volumes (their data is lost)"},
			&cli.BoolFlag{Name: "ignore-daemonsets", Usage: "accepted for kubectl compatibility; gossipod has no DaemonSets"},
		},
		Action: runDrain,
	}
}

func runDrain(c *cli.Context) error {
	nodes, err := nodeArgs(c)
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := cordon(c, cl, n, true); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &drainer{
		cl:             cl,
		out:            &lockedWriter{w: c.App.Writer},
		errOut:         &lockedWriter{w: c.App.ErrWriter},
		force:          c.Bool("force"),
		deleteEmptyDir: c.Bool("delete-emptydir-data"),
		timeout:        c.Duration("timeout"),
	}
	if g := c.Int64("grace-period"); g >= 0 {
		d.gracePeriod = &g
	}
	var fatal []error
	var remaining []string
	for _, n := range nodes {
		err := d.drainNode(ctx, n)
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while draining node %q", n)
		}
		if err == nil {
			fmt.Fprintf(d.out, "node/%s drained\n", n)
			continue
		}
		fmt.Fprintf(d.errOut, "error: unable to drain node %q due to error: %s, continuing command...\n", n, err)
		remaining = append(remaining, n)
		fatal = append(fatal, err)
	}
	if len(fatal) == 0 {
		return nil
	}
	fmt.Fprintf(d.errOut, "There are pending nodes to be drained:\n")
	for _, n := range remaining {
		fmt.Fprintf(d.errOut, " %s\n", n)
	}
	return aggregate(fatal)
}

// drainer evicts the pods of nodes, as kubectl's drain.Helper does.
type drainer struct {
	cl             *client.Client
	out, errOut    io.Writer
	force          bool
	deleteEmptyDir bool
	gracePeriod    *int64
	timeout        time.Duration // 0: none
}

// The reasons kubectl's drain gives for not deleting a pod (fatal) or for
// deleting it with a warning.
const (
	unmanagedFatal      = "Pods that declare no controller (use --force to override)"
	unmanagedWarning    = "deleting Pods that declare no controller"
	localStorageFatal   = "Pods with local storage (use --delete-emptydir-data to override)"
	localStorageWarning = "deleting Pods with local storage"
)

// podDelete is one pod of the node and what drain makes of it.
type podDelete struct {
	pod     api.Pod
	fatal   string // why it cannot be evicted without a flag
	warning string // why evicting it deserves a warning
}

// podsForDeletion lists the node's non-terminated pods and checks each as
// kubectl's filters do: a pod with an emptyDir volume needs
// --delete-emptydir-data, one without a controller needs --force.
func (d *drainer) podsForDeletion(ctx context.Context, node string) ([]podDelete, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := d.cl.Pods(rctx, client.ListOptions{
		FieldSelector: "spec.nodeName=" + node + ",status.phase!=Succeeded,status.phase!=Failed",
	})
	if err != nil {
		return nil, statusError(err)
	}
	sortPods(list.Items)
	out := make([]podDelete, 0, len(list.Items))
	for _, p := range list.Items {
		pd := podDelete{pod: p}
		if hasEmptyDir(&p) {
			if d.deleteEmptyDir {
				pd.warning = localStorageWarning
			} else {
				pd.fatal = localStorageFatal
			}
		}
		if pd.fatal == "" && controllerUID(&p) == "" {
			// As in kubectl, the last filter's verdict is the pod's.
			if d.force {
				pd.warning = unmanagedWarning
			} else {
				pd.fatal = unmanagedFatal
			}
		}
		out = append(out, pd)
	}
	return out, nil
}

func hasEmptyDir(p *api.Pod) bool {
	for _, v := range p.Spec.Volumes {
		if v.EmptyDir != nil {
			return true
		}
	}
	return false
}

// groupPods renders kubectl's "message: ns/a, ns/b" for the pods with each
// message, in a stable order.
func groupPods(pods []podDelete, message func(podDelete) string) []string {
	byMsg := map[string][]string{}
	var msgs []string
	for _, pd := range pods {
		m := message(pd)
		if m == "" {
			continue
		}
		if _, ok := byMsg[m]; !ok {
			msgs = append(msgs, m)
		}
		byMsg[m] = append(byMsg[m], pd.pod.Namespace+"/"+pd.pod.Name)
	}
	sort.Strings(msgs)
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m + ": " + strings.Join(byMsg[m], ", ")
	}
	return out
}

// drainNode evicts the node's pods and waits until they are gone.
func (d *drainer) drainNode(ctx context.Context, node string) error {
	pods, err := d.podsForDeletion(ctx, node)
	if err != nil {
		return err
	}
	if fatal := groupPods(pods, func(pd podDelete) string { return pd.fatal }); len(fatal) > 0 {
		errs := make([]error, len(fatal))
		for i, f := range fatal {
			errs[i] = errors.New("cannot delete " + f)
		}
		return aggregate(errs)
	}
	if warnings := groupPods(pods, func(pd podDelete) string { return pd.warning }); len(warnings) > 0 {
		fmt.Fprintf(d.errOut, "Warning: %s\n", strings.Join(warnings, "; "))
	}
	if err := d.evictPods(ctx, pods); err != nil {
		if pending, lerr := d.podsForDeletion(ctx, node); lerr == nil && len(pending) > 0 {
			fmt.Fprintf(d.errOut, "There are pending pods in node %q when an error occurred: %v\n", node, err)
			for _, pd := range pending {
				fmt.Fprintf(d.errOut, "pod/%s\n", pd.pod.Name)
			}
		}
		return err
	}
	return nil
}

// evictPods evicts every pod at once, each retrying while the server
// answers 429, then waits until each is gone, printing kubectl's lines.
func (d *drainer) evictPods(ctx context.Context, pods []podDelete) error {
	globalTimeout := d.timeout
	if globalTimeout <= 0 {
		globalTimeout = time.Duration(math.MaxInt64)
	}
	ctx, cancel := context.WithTimeout(ctx, globalTimeout)
	defer cancel()
	errs := make(chan error, len(pods))
	for _, pd := range pods {
		go func(p api.Pod) { errs <- d.evictPod(ctx, p, globalTimeout) }(pd.pod)
	}
	var failed []error
	for range pods {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	return aggregate(failed)
}

func (d *drainer) evictPod(ctx context.Context, p api.Pod, globalTimeout time.Duration) error {
	for {
		fmt.Fprintf(d.out, "evicting pod %s/%s\n", p.Namespace, p.Name)
		if ctx.Err() != nil {
			return fmt.Errorf("error when evicting pods/%q -n %q: global timeout reached: %v", p.Name, p.Namespace, globalTimeout)
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := d.cl.EvictPod(rctx, p.Namespace, p.Name, client.EvictOptions{GracePeriodSeconds: d.gracePeriod})
		cancel()
		if err == nil {
			break
		}
		if isNotFound(err) {
			return nil
		}
		// 429: the eviction would break a Deployment's budget; 503: the
		// cluster is electing a leader. Both pass; ask again later.
		var s *api.Status
		if !errors.As(err, &s) || s.Code != 429 && s.Code != 503 {
			if ctx.Err() != nil {
				continue // reported as the timeout above
			}
			return fmt.Errorf("error when evicting pods/%q -n %q: %v", p.Name, p.Namespace, err)
		}
		fmt.Fprintf(d.errOut, "error when evicting pods/%q -n %q (will retry after %v): %v\n", p.Name, p.Namespace, evictionRetryDelay, err)
		select {
		case <-ctx.Done():
		case <-time.After(evictionRetryDelay):
		}
	}
	switch err := waitPodGone(ctx, d.cl, &p, drainPollInterval); {
	case err == nil:
		fmt.Fprintf(d.out, "pod/%s evicted\n", p.Name)
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("error when waiting for pod %q in namespace %q to terminate: global timeout reached: %v", p.Name, p.Namespace, globalTimeout)
	default:
		return fmt.Errorf("error when waiting for pod %q in namespace %q to terminate: %v", p.Name, p.Namespace, err)
	}
}

// aggregate joins errors as apimachinery's NewAggregate prints them: one
// error as itself, several as "[a, b]"; none is nil.
func aggregate(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New("[" + strings.Join(msgs, ", ") + "]")
}

// lockedWriter serialises the writes of drain's concurrent evictions, so
// that their lines do not interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
