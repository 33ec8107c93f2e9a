package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

func deleteCommand() *cli.Command {
	return &cli.Command{
		Name:  "delete",
		Usage: "delete objects by name, by label selector, or those of manifests",
		Description: "A pod bound to a node is Terminating until its node has stopped it; like\n" +
			"kubectl, delete waits for that unless --wait=false. Deleting a Deployment\n" +
			"deletes its ReplicaSets and their pods (--cascade=background, the default),\n" +
			"and delete waits until the pods are gone; --cascade=foreground keeps the\n" +
			"Deployment until they are, --cascade=orphan leaves them running.\n\n" +
			"gossipod delete pod web\n" +
			"gossipod delete deployment web\n" +
			"gossipod delete rs web-5d8b6c8f9 --cascade=orphan\n" +
			"gossipod delete pods -l app=web --now\n" +
			"gossipod delete -f examples/pod.yaml",
		ArgsUsage: "(-f FILENAME | TYPE [NAME... | -l SELECTOR | --all] | TYPE/NAME...)",
		Flags: []cli.Flag{
			filenameFlag("delete"),
			recursiveFlag(),
			namespaceFlag(),
			&cli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "delete the objects of the type with these labels"},
			&cli.BoolFlag{Name: "all", Usage: "delete every object of the type in the namespace"},
			&cli.Int64Flag{Name: "grace-period", Value: -1, Usage: "seconds the containers get to stop; -1: the pod's own; 0 only with --force"},
			&cli.BoolFlag{Name: "now", Usage: "stop at once (--grace-period=1)"},
			&cli.BoolFlag{Name: "force", Usage: "delete at once, without waiting for the node to confirm (with --grace-period=0)"},
			&cli.BoolFlag{Name: "ignore-not-found", Usage: "a missing object is not an error"},
			&cli.StringFlag{Name: "cascade", Value: "background", Usage: "what happens to the dependents of a Deployment or ReplicaSet: background, foreground or orphan"},
			&cli.BoolFlag{Name: "wait", Value: true, Usage: "wait until the objects are gone"},
			&cli.DurationFlag{Name: "timeout", Usage: "how long to wait (0: a week)"},
		},
		Action: runDelete,
	}
}

// deleteTarget is one object to delete: a pod, a Deployment or a
// ReplicaSet (kind is resourcePods, resourceDeployments or
// resourceReplicaSets); source is the manifest it came from, if any, for
// error messages.
type deleteTarget struct {
	kind, namespace, name, source string
}

func runDelete(c *cli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	grace, err := deleteGracePeriod(c)
	if err != nil {
		return err
	}
	cascade, err := cascadePolicy(c.String("cascade"))
	if err != nil {
		return err
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}

	var targets []deleteTarget
	files := c.StringSlice("filename")
	switch {
	case len(files) > 0:
		if len(args) > 0 || c.IsSet("selector") || c.Bool("all") {
			return usageError{errors.New("--filename cannot be combined with resource names, --selector or --all")}
		}
		objs, err := readManifests(files, c.Bool("recursive"), c.App.Reader)
		if err != nil {
			return err
		}
		if err := setNamespaces(objs, namespace(c), c.IsSet("namespace")); err != nil {
			return err
		}
		for _, o := range objs {
			var kind string
			switch o.obj.(type) {
			case *api.Pod:
				kind = resourcePods
			case *api.Deployment:
				kind = resourceDeployments
			case *api.ReplicaSet:
				kind = resourceReplicaSets
			default:
				apiVersion, objKind := o.obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
				return fmt.Errorf("unable to delete %s %s %q from %q: this kind is not supported yet", apiVersion, objKind, o.obj.GetName(), o.source)
			}
			targets = append(targets, deleteTarget{kind: kind, namespace: o.obj.GetNamespace(), name: o.obj.GetName(), source: o.source})
		}
	default:
		kind, names, err := resourceArgs(args, "delete")
		if err != nil {
			return err
		}
		if kind != resourcePods && kind != resourceDeployments && kind != resourceReplicaSets {
			return usageError{fmt.Errorf("deleting %s is not supported", kind)}
		}
		selector, all := c.String("selector"), c.Bool("all")
		switch {
		case len(names) > 0 && (selector != "" || all):
			return usageError{errors.New("name cannot be provided when a selector or --all is specified")}
		case len(names) == 0 && selector == "" && !all:
			return usageError{errors.New("resource(s) were provided, but no name was specified")}
		}
		ns := namespace(c)
		for _, n := range names {
			targets = append(targets, deleteTarget{kind: kind, namespace: ns, name: n})
		}
		if len(names) == 0 {
			ctx, cancel := requestContext(c)
			targets, err = listDeleteTargets(ctx, cl, kind, client.ListOptions{Namespace: ns, LabelSelector: selector})
			cancel()
			if err != nil {
				return statusError(err)
			}
			if len(targets) == 0 {
				fmt.Fprintln(c.App.ErrWriter, "No resources found")
				return nil
			}
		}
	}

	force := c.Bool("force")
	if force {
		fmt.Fprintln(c.App.ErrWriter, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}
	failed := 0
	var deleted []deletedObject
	for _, t := range targets {
		ctx, cancel := requestContext(c)
		var gone deletedObject
		var err error
		ref := "pod"
		switch t.kind {
		case resourceDeployments:
			ref = deploymentKind
			gone.deployment, err = cl.DeleteDeployment(ctx, t.namespace, t.name, cascade)
		case resourceReplicaSets:
			ref = replicaSetKind
			gone.replicaSet, err = cl.DeleteReplicaSet(ctx, t.namespace, t.name, cascade)
		default:
			gone.pod, err = cl.DeletePod(ctx, t.namespace, t.name, grace)
		}
		cancel()
		switch {
		case err == nil:
			verb := "deleted"
			if force {
				verb = "force deleted"
			}
			fmt.Fprintf(c.App.Writer, "%s %q %s\n", ref, t.name, verb)
			deleted = append(deleted, gone)
		case isNotFound(err) && c.Bool("ignore-not-found"):
		default:
			failed++
			if t.source != "" {
				err = withContext(err, fmt.Sprintf("error when deleting %q: ", t.source))
			}
			fmt.Fprintln(c.App.ErrWriter, errorMessage(err))
		}
	}

	if c.Bool("wait") && !force && len(deleted) > 0 {
		timeout := c.Duration("timeout")
		if timeout <= 0 {
			timeout = 7 * 24 * time.Hour
		}
		ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		for _, o := range deleted {
			var err error
			var what string
			switch {
			case o.deployment != nil:
				what = "deployments/" + o.deployment.Name
				err = waitDeploymentGone(ctx, cl, o.deployment, cascade, time.Second)
			case o.replicaSet != nil:
				what = "replicasets/" + o.replicaSet.Name
				err = waitReplicaSetGone(ctx, cl, o.replicaSet, cascade, time.Second)
			default:
				err = waitPodGone(ctx, cl, o.pod, time.Second)
				what = "pods/" + o.pod.Name
			}
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				return fmt.Errorf("timed out waiting for the condition on %s", what)
			case errors.Is(err, context.Canceled):
				// Interrupted: the deletions go on without us.
				if failed > 0 {
					return reportedError{failed}
				}
				return nil
			case err != nil:
				return err
			}
		}
	}
	if failed > 0 {
		return reportedError{failed}
	}
	return nil
}

// deleteGracePeriod reads --grace-period, --now and --force the way
// kubectl does: nil means the pod's own grace period; --now is 1 second;
// --force alone is 0; and 0 without --force becomes 1, so that a pod is
// never dropped before its node has stopped it unless asked to.
func deleteGracePeriod(c *cli.Context) (*int64, error) {
	g := c.Int64("grace-period")
	if c.Bool("now") {
		if g >= 0 {
			return nil, usageError{errors.New("--now and --grace-period cannot be specified together")}
		}
		g = 1
	}
	if c.Bool("force") && g < 0 {
		g = 0
	}
	if g == 0 && !c.Bool("force") {
		g = 1
	}
	if g < 0 {
		return nil, nil
	}
	return &g, nil
}

// waitPodGone polls until the pod is gone, or replaced by another pod of the
// same name (another uid), or ctx ends.
func waitPodGone(ctx context.Context, cl *client.Client, deleted *api.Pod, every time.Duration) error {
	for {
		p, err := cl.Pod(ctx, deleted.Namespace, deleted.Name)
		switch {
		case isNotFound(err):
			return nil
		case err == nil && deleted.UID != "" && p.UID != deleted.UID:
			return nil
		case err != nil && ctx.Err() == nil:
			var s *api.Status
			if errors.As(err, &s) && s.Code != 503 {
				return statusError(err)
			}
			// The agent is unreachable or has no leader: keep waiting.
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// deletedObject is what a delete request returned: a pod, a Deployment
// or a ReplicaSet.
type deletedObject struct {
	pod        *api.Pod
	deployment *api.Deployment
	replicaSet *api.ReplicaSet
}

// cascadePolicy reads --cascade as kubectl does: background (or true, its
// old form), foreground, orphan (or false). Background is sent as no
// policy at all, the server's default.
func cascadePolicy(s string) (api.DeletionPropagation, error) {
	switch strings.ToLower(s) {
	case "background", "true", "":
		return "", nil
	case "foreground":
		return api.DeletePropagationForeground, nil
	case "orphan", "false":
		return api.DeletePropagationOrphan, nil
	}
	return "", usageError{fmt.Errorf("invalid cascade value (%s). Must be \"background\", \"foreground\", or \"orphan\"", s)}
}

// listDeleteTargets lists the pods or Deployments that -l or --all
// delete, in name order.
func listDeleteTargets(ctx context.Context, cl *client.Client, kind string, opts client.ListOptions) ([]deleteTarget, error) {
	var targets []deleteTarget
	if kind == resourceReplicaSets {
		list, err := cl.ReplicaSets(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, rs := range list.Items {
			targets = append(targets, deleteTarget{kind: kind, namespace: rs.Namespace, name: rs.Name})
		}
		return targets, nil
	}
	if kind == resourceDeployments {
		list, err := cl.Deployments(ctx, opts)
		if err != nil {
			return nil, err
		}
		sortDeployments(list.Items)
		for _, d := range list.Items {
			targets = append(targets, deleteTarget{kind: kind, namespace: d.Namespace, name: d.Name})
		}
		return targets, nil
	}
	list, err := cl.Pods(ctx, opts)
	if err != nil {
		return nil, err
	}
	sortPods(list.Items)
	for _, p := range list.Items {
		targets = append(targets, deleteTarget{kind: kind, namespace: p.Namespace, name: p.Name})
	}
	return targets, nil
}

// waitDeploymentGone waits for what a Deployment's deletion took: in the
// foreground, the Deployment itself, which the server keeps until its pods
// are gone; in the background, its pods (the ReplicaSets go at once, the
// pods when their nodes have stopped them); when orphaning, nothing.
func waitDeploymentGone(ctx context.Context, cl *client.Client, d *api.Deployment, cascade api.DeletionPropagation, every time.Duration) error {
	switch cascade {
	case api.DeletePropagationOrphan:
		return nil
	case api.DeletePropagationForeground:
		return pollUntil(ctx, every, func() (bool, error) {
			cur, err := cl.Deployment(ctx, d.Namespace, d.Name)
			return isNotFound(err) || err == nil && cur.UID != d.UID, err
		})
	}
	return waitPodsGone(ctx, cl, d.Namespace, d.Spec.Selector, every, func(p *api.Pod) bool { return ownedByDeployment(p, d) })
}

// waitReplicaSetGone is waitDeploymentGone for a ReplicaSet and its pods.
func waitReplicaSetGone(ctx context.Context, cl *client.Client, rs *api.ReplicaSet, cascade api.DeletionPropagation, every time.Duration) error {
	switch cascade {
	case api.DeletePropagationOrphan:
		return nil
	case api.DeletePropagationForeground:
		return pollUntil(ctx, every, func() (bool, error) {
			cur, err := cl.ReplicaSet(ctx, rs.Namespace, rs.Name)
			return isNotFound(err) || err == nil && cur.UID != rs.UID, err
		})
	}
	return waitPodsGone(ctx, cl, rs.Namespace, rs.Spec.Selector, every, func(p *api.Pod) bool { return controllerUID(p) == rs.UID })
}

// ownedByDeployment reports whether a pod is Deployment d's: its
// controller is the ReplicaSet d made for the pod's template
// (<deployment>-<pod-template-hash>), or d itself for a pod stored before
// ReplicaSets. By name, since the ReplicaSets are deleted with d.
func ownedByDeployment(p *api.Pod, d *api.Deployment) bool {
	r := api.ControllerOf(&p.ObjectMeta)
	return r != nil && (r.UID == d.UID ||
		r.Kind == "ReplicaSet" && r.Name == d.Name+"-"+p.Labels[api.LabelPodTemplateHash])
}

// waitPodsGone polls the pods its selector picks in namespace until none
// that belongs is left, or ctx ends: the server deletes them with their
// owner, and each is Terminating until its node has stopped it.
func waitPodsGone(ctx context.Context, cl *client.Client, namespace string, selector *api.LabelSelector, every time.Duration, belongs func(*api.Pod) bool) error {
	opts := client.ListOptions{Namespace: namespace}
	if sel, err := api.LabelSelectorAsSelector(selector); err == nil {
		opts.LabelSelector = sel.String()
	}
	return pollUntil(ctx, every, func() (bool, error) {
		list, err := cl.Pods(ctx, opts)
		if err != nil {
			return false, err
		}
		return !slices.ContainsFunc(list.Items, func(p api.Pod) bool { return belongs(&p) }), nil
	})
}

// pollUntil calls done every interval until it reports true, returns an
// error the server answered (a 503, an unreachable agent or a missing
// leader only delay it), or ctx ends.
func pollUntil(ctx context.Context, every time.Duration, done func() (bool, error)) error {
	for {
		ok, err := done()
		switch {
		case ok:
			return nil
		case err != nil && ctx.Err() == nil && !isNotFound(err):
			var s *api.Status
			if errors.As(err, &s) && s.Code != 503 {
				return statusError(err)
			}
			// The agent is unreachable or has no leader: keep waiting.
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// controllerUID is the uid of the pod's controlling owner, or "".
func controllerUID(p *api.Pod) types.UID {
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			return o.UID
		}
	}
	return ""
}
