package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// deleteTarget is one object to delete, of any resource discovery lists
// with the delete verb; source is the manifest it came from, if any, for
// error messages.
type deleteTarget struct {
	resource                apiResource
	namespace, name, source string
}

// isCore reports whether r is the core or apps resource named (pods,
// deployments, replicasets), which delete handles with their grace period,
// cascade and wait.
func (r apiResource) isCore(group, resource string) bool {
	return r.Group == group && r.Resource == resource
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
	ctx, cancel := requestContext(c)
	resources, err := discover(ctx, cl)
	cancel()
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
			gvk := o.obj.GetObjectKind().GroupVersionKind()
			i := slices.IndexFunc(resources, func(r apiResource) bool { return r.Group == gvk.Group && r.Kind == gvk.Kind })
			if i < 0 || !resources[i].has("delete") {
				apiVersion, objKind := gvk.ToAPIVersionAndKind()
				return fmt.Errorf("unable to delete %s %s %q from %q: the server does not allow deleting this kind", apiVersion, objKind, o.obj.GetName(), o.source)
			}
			targets = append(targets, deleteTarget{resource: resources[i], namespace: o.obj.GetNamespace(), name: o.obj.GetName(), source: o.source})
		}
	default:
		types, names, err := typedArgs(resources, args, "delete")
		if err != nil {
			return err
		}
		selector, all := c.String("selector"), c.Bool("all")
		named := slices.ContainsFunc(names, func(n []string) bool { return len(n) > 0 })
		switch {
		case named && (selector != "" || all):
			return usageError{errors.New("name cannot be provided when a selector or --all is specified")}
		case !named && selector == "" && !all:
			return usageError{errors.New("resource(s) were provided, but no name was specified")}
		}
		ns := namespace(c)
		for i, r := range types {
			if !r.has("delete") {
				return usageError{fmt.Errorf("the server does not allow this method on the requested resource (delete %s)", r.groupResource())}
			}
			for _, n := range names[i] {
				targets = append(targets, deleteTarget{resource: r, namespace: ns, name: n})
			}
			if !named {
				ctx, cancel := requestContext(c)
				listed, err := listDeleteTargets(ctx, cl, r, ns, selector)
				cancel()
				if err != nil {
					return statusError(err)
				}
				targets = append(targets, listed...)
			}
		}
		if len(targets) == 0 {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
			return nil
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
		ref := t.resource.nameKind()
		switch {
		case t.resource.isCore("apps", "deployments"):
			gone.deployment, err = cl.DeleteDeployment(ctx, t.namespace, t.name, cascade)
		case t.resource.isCore("apps", "replicasets"):
			gone.replicaSet, err = cl.DeleteReplicaSet(ctx, t.namespace, t.name, cascade)
		case t.resource.isCore("", "pods"):
			gone.pod, err = cl.DeletePod(ctx, t.namespace, t.name, grace)
		default:
			gone.other, err = deleteObject(ctx, cl, t, cascade)
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
			case o.pod != nil:
				err = waitPodGone(ctx, cl, o.pod, time.Second)
				what = "pods/" + o.pod.Name
			default:
				what = o.other.target.resource.Resource + "/" + o.other.target.name
				err = waitObjectGone(ctx, cl, o.other, time.Second)
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

// deletedObject is what a delete request returned: a pod, a Deployment,
// a ReplicaSet, or an object of another kind.
type deletedObject struct {
	pod        *api.Pod
	deployment *api.Deployment
	replicaSet *api.ReplicaSet
	other      *deletedOther
}

// deletedOther is an object of a kind delete knows only from discovery:
// what was deleted, and its uid (to tell it from a new object of the same
// name while waiting).
type deletedOther struct {
	target deleteTarget
	uid    types.UID
}

// deleteObject deletes an object of any kind, with the cascade policy
// (none: the server's default, background).
func deleteObject(ctx context.Context, cl *client.Client, t deleteTarget, cascade api.DeletionPropagation) (*deletedOther, error) {
	var body any
	if cascade != "" {
		body = map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": cascade}
	}
	var out struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := cl.Do(ctx, http.MethodDelete, t.resource.path(t.namespace, t.name), body, &out); err != nil {
		return nil, err
	}
	return &deletedOther{target: t, uid: out.Metadata.UID}, nil
}

// waitObjectGone polls until the object is gone or replaced by another of
// the same name, or ctx ends.
func waitObjectGone(ctx context.Context, cl *client.Client, o *deletedOther, every time.Duration) error {
	return pollUntil(ctx, every, func() (bool, error) {
		var cur struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		err := cl.Do(ctx, http.MethodGet, o.target.resource.path(o.target.namespace, o.target.name), nil, &cur)
		return isNotFound(err) || err == nil && o.uid != "" && cur.Metadata.UID != o.uid, err
	})
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

// listDeleteTargets lists the objects of r that -l or --all delete, in
// namespace and name order.
func listDeleteTargets(ctx context.Context, cl *client.Client, r apiResource, namespace, selector string) ([]deleteTarget, error) {
	path := r.path(namespace, "")
	if selector != "" {
		path += "?" + url.Values{"labelSelector": {selector}}.Encode()
	}
	var list struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		} `json:"items"`
	}
	if err := cl.Do(ctx, http.MethodGet, path, nil, &list); err != nil {
		return nil, err
	}
	var targets []deleteTarget
	for _, it := range list.Items {
		targets = append(targets, deleteTarget{resource: r, namespace: it.Metadata.Namespace, name: it.Metadata.Name})
	}
	slices.SortStableFunc(targets, func(a, b deleteTarget) int {
		if c := strings.Compare(a.namespace, b.namespace); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
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
