package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// deploymentKind is how kubectl names Deployments in its messages:
// `deployment.apps/web created`, `deployment.apps "web" deleted`.
const deploymentKind = "deployment.apps"

// cloneJSON deep-copies an API object through its JSON form.
func cloneJSON[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err)) // API objects always marshal
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("unmarshal %T: %v", v, err))
	}
	return &out
}

// applyDeployment creates the Deployment, or updates it where it differs
// from the manifest, with the resourceVersion it was compared with.
func applyDeployment(ctx context.Context, cl *client.Client, desired *api.Deployment, source string) (applyResult, *api.Deployment, error) {
	for attempt := 1; ; attempt++ {
		live, err := cl.Deployment(ctx, desired.Namespace, desired.Name)
		if isNotFound(err) {
			created, err := cl.CreateDeployment(ctx, deploymentToCreate(desired))
			if err == nil {
				return applyCreated, created, nil
			}
			if hasReason(err, api.StatusReasonAlreadyExists) && attempt < applyAttempts {
				continue
			}
			return "", nil, withContext(err, fmt.Sprintf("error when creating %q: ", source))
		}
		if err != nil {
			return "", nil, withContext(err, fmt.Sprintf("error when retrieving current configuration of %s %q from server for: %q: ", deploymentKind, desired.Name, source))
		}
		update, changed := deploymentUpdate(desired, live)
		if !changed {
			return applyUnchanged, live, nil
		}
		updated, err := cl.UpdateDeployment(ctx, update)
		if err == nil {
			return applyConfigured, updated, nil
		}
		if (hasReason(err, api.StatusReasonConflict) || isNotFound(err)) && attempt < applyAttempts {
			continue
		}
		return "", nil, withContext(err, fmt.Sprintf("error when updating %q: ", source))
	}
}

// deploymentToCreate is the manifest's Deployment without what the cluster
// sets (a manifest may be the output of `get -o yaml`).
func deploymentToCreate(desired *api.Deployment) *api.Deployment {
	d := cloneJSON(desired)
	clearDeploymentServerFields(d)
	d.UID, d.ResourceVersion = "", ""
	return d
}

func clearDeploymentServerFields(d *api.Deployment) {
	d.Status = api.DeploymentStatus{}
	d.CreationTimestamp = api.Time{}
	d.DeletionTimestamp = nil
	d.DeletionGracePeriodSeconds = nil
	d.Finalizers = nil
	d.Generation = 0
}

// deploymentUpdate decides apply's update of a live Deployment, as
// podUpdate does for a pod: the manifest's labels, annotations and spec,
// defaulted as the server defaults them, against the live ones. A manifest
// without spec.replicas keeps the live count, as kubectl apply's merge
// does, so that re-applying it does not undo a `scale`; nor does it drop
// the controller's revision annotation.
func deploymentUpdate(desired, live *api.Deployment) (*api.Deployment, bool) {
	update := cloneJSON(desired)
	clearDeploymentServerFields(update)
	if update.Spec.Replicas == nil && live.Spec.Replicas != nil {
		r := *live.Spec.Replicas
		update.Spec.Replicas = &r
	}
	// The revision annotation is the controller's, as kubectl apply's
	// three-way merge leaves an annotation the manifest never named.
	if rev, ok := live.Annotations[api.AnnotationRevision]; ok {
		if _, set := update.Annotations[api.AnnotationRevision]; !set {
			if update.Annotations == nil {
				update.Annotations = map[string]string{}
			}
			update.Annotations[api.AnnotationRevision] = rev
		}
	}
	want := cloneJSON(update)
	api.SetDeploymentDefaults(want)
	have := cloneJSON(live)
	api.SetDeploymentDefaults(have)
	if maps.Equal(want.Labels, have.Labels) && maps.Equal(want.Annotations, have.Annotations) &&
		equality.Semantic.DeepEqual(want.Spec, have.Spec) {
		return nil, false
	}
	update.UID = live.UID
	update.ResourceVersion = live.ResourceVersion
	return update, true
}

// deploymentTableOptions choose the columns of the Deployment table.
type deploymentTableOptions struct {
	wide          bool // CONTAINERS, IMAGES, SELECTOR
	allNamespaces bool // NAMESPACE first
	showLabels    bool // LABELS last
}

func (o deploymentTableOptions) headers() []string {
	var h []string
	if o.allNamespaces {
		h = append(h, "NAMESPACE")
	}
	h = append(h, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
	if o.wide {
		h = append(h, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	if o.showLabels {
		h = append(h, "LABELS")
	}
	return h
}

// row is one Deployment's line of `get deployments`, as kubectl prints it:
// READY is ready replicas of the wanted ones.
func (o deploymentTableOptions) row(d *api.Deployment, now time.Time) []string {
	var r []string
	if o.allNamespaces {
		r = append(r, d.Namespace)
	}
	r = append(r, d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, desiredReplicas(d)),
		fmt.Sprint(d.Status.UpdatedReplicas), fmt.Sprint(d.Status.AvailableReplicas), age(d.CreationTimestamp, now))
	if o.wide {
		var names, images []string
		for _, c := range d.Spec.Template.Spec.Containers {
			names = append(names, c.Name)
			images = append(images, c.Image)
		}
		r = append(r, strings.Join(names, ","), strings.Join(images, ","), selectorString(d.Spec.Selector))
	}
	if o.showLabels {
		r = append(r, labelsColumn(d.Labels))
	}
	return r
}

// desiredReplicas is spec.replicas, 1 when unset (the default).
func desiredReplicas(d *api.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return api.DefaultDeploymentReplicas
	}
	return *d.Spec.Replicas
}

// selectorString is a label selector as kubectl prints it (app=web,
// tier in (a,b)), "<invalid>" if it is not one.
func selectorString(s *api.LabelSelector) string {
	sel, err := api.LabelSelectorAsSelector(s)
	if err != nil {
		return "<invalid>"
	}
	return sel.String()
}

// deploymentPrinter prints Deployments in one -o format, a batch at a
// time, as podPrinter does for pods.
type deploymentPrinter struct {
	w       io.Writer
	format  string
	opts    deploymentTableOptions
	headers bool
	table   *alignedRows
	objects int
}

func newDeploymentPrinter(w io.Writer, format string, opts deploymentTableOptions, headers bool) *deploymentPrinter {
	return &deploymentPrinter{w: w, format: format, opts: opts, headers: headers, table: &alignedRows{w: w}}
}

func (p *deploymentPrinter) print(ds []api.Deployment, now time.Time) error {
	switch p.format {
	case "json", "yaml":
		for i := range ds {
			if p.format == "yaml" && p.objects > 0 {
				fmt.Fprintln(p.w, "---")
			}
			if err := printObject(p.w, p.format, &ds[i]); err != nil {
				return err
			}
			p.objects++
		}
		return nil
	case "name":
		for _, d := range ds {
			if _, err := fmt.Fprintf(p.w, "%s/%s\n", deploymentKind, d.Name); err != nil {
				return err
			}
		}
		return nil
	}
	var rows [][]string
	if p.headers && p.table.widths == nil && len(ds) > 0 {
		rows = append(rows, p.opts.headers())
	}
	for i := range ds {
		rows = append(rows, p.opts.row(&ds[i], now))
	}
	return p.table.write(rows...)
}

// getDeployments is `get deployments [NAME...]`.
func getDeployments(c *cli.Context, names []string) error {
	format, err := checkOutput(c, "wide", "json", "yaml", "name")
	if err != nil {
		return err
	}
	if c.IsSet("field-selector") {
		return usageError{errors.New("--field-selector is not supported for deployments")}
	}
	all := c.Bool("all-namespaces")
	watch := c.Bool("watch")
	selector := c.String("selector")
	switch {
	case len(names) > 0 && all:
		return usageError{errors.New("a resource cannot be retrieved by name across all namespaces")}
	case len(names) > 0 && selector != "":
		return usageError{errors.New("name cannot be provided when a selector is specified")}
	case len(names) > 1 && watch:
		return usageError{fmt.Errorf("watch is only supported on individual resources and resource collections, but %d resources were found", len(names))}
	}
	ns := namespace(c)
	opts := client.ListOptions{Namespace: ns, LabelSelector: selector}
	if all {
		opts.Namespace = ""
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()

	var ds []api.Deployment
	var listVersion string
	var failed []error
	if len(names) > 0 {
		for _, name := range names {
			d, err := cl.Deployment(ctx, ns, name)
			if err != nil {
				if !isNotFound(err) {
					return statusError(err)
				}
				failed = append(failed, statusError(err))
				continue
			}
			ds = append(ds, *d)
		}
		switch {
		case format != "json" && format != "yaml" || len(ds) == 0:
		case len(names) == 1:
			if err := printObject(c.App.Writer, format, &ds[0]); err != nil {
				return err
			}
		default:
			list := api.DeploymentList{TypeMeta: api.TypeMeta{Kind: "List", APIVersion: "v1"}, Items: ds}
			if err := printObject(c.App.Writer, format, &list); err != nil {
				return err
			}
		}
		if len(ds) == 1 {
			listVersion = ds[0].ResourceVersion
		}
	} else {
		list, err := cl.Deployments(ctx, opts)
		if err != nil {
			return statusError(err)
		}
		sortDeployments(list.Items)
		if format == "json" || format == "yaml" {
			if list.Kind == "" {
				list.TypeMeta = api.TypeMeta{Kind: "DeploymentList", APIVersion: "apps/v1"}
			}
			if list.Items == nil {
				list.Items = []api.Deployment{}
			}
			if err := printObject(c.App.Writer, format, list); err != nil {
				return err
			}
		}
		ds, listVersion = list.Items, list.ResourceVersion
	}

	printer := newDeploymentPrinter(c.App.Writer, format, deploymentTableOptions{
		wide: format == "wide", allNamespaces: all, showLabels: c.Bool("show-labels"),
	}, !c.Bool("no-headers"))
	if format == "json" || format == "yaml" {
		printer.objects = 1 // the object or list above
	} else if err := printer.print(ds, time.Now()); err != nil {
		return err
	}
	if len(ds) == 0 && len(names) == 0 && format != "json" && format != "yaml" {
		if all {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
		} else {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
	}
	for _, err := range failed {
		fmt.Fprintln(c.App.ErrWriter, errorMessage(err))
	}
	if len(failed) > 0 {
		return reportedError{len(failed)}
	}
	if !watch {
		return nil
	}

	// -w: a row (or object) per change, until interrupted. The server
	// filters Deployments by labels only, so a single name is kept here.
	wctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return watchObjects(wctx, cl.WatchDeployments, opts, listVersion, func(_ string, d *api.Deployment) error {
		if len(names) == 1 && d.Name != names[0] {
			return nil
		}
		return printer.print([]api.Deployment{*d}, time.Now())
	})
}

// sortDeployments orders Deployments by namespace, then name.
func sortDeployments(ds []api.Deployment) {
	slices.SortStableFunc(ds, func(a, b api.Deployment) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// describeDeployments renders the named Deployments, or those the selector
// (or nothing) picks in the namespace. Missing ones come back as failures.
func describeDeployments(c *cli.Context, cl *client.Client, names []string) ([]string, []error, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	ns := namespace(c)
	var ds []api.Deployment
	var failed []error
	if len(names) == 0 {
		list, err := cl.Deployments(ctx, client.ListOptions{Namespace: ns, LabelSelector: c.String("selector")})
		if err != nil {
			return nil, nil, statusError(err)
		}
		if len(list.Items) == 0 {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
		sortDeployments(list.Items)
		ds = list.Items
	}
	for _, name := range names {
		d, err := cl.Deployment(ctx, ns, name)
		if err != nil {
			if !isNotFound(err) {
				return nil, nil, statusError(err)
			}
			failed = append(failed, statusError(err))
			continue
		}
		ds = append(ds, *d)
	}
	var texts []string
	for i := range ds {
		d := &ds[i]
		var events []api.Event
		el, err := cl.Events(ctx, client.ListOptions{Namespace: d.Namespace, FieldSelector: "involvedObject.uid=" + string(d.UID)})
		if err == nil {
			events = el.Items
			if events == nil {
				events = []api.Event{}
			}
		}
		rsLines := deploymentRSLines{known: false}
		if oldRSs, newRS, err := deploymentReplicaSets(ctx, cl, d); err == nil {
			rsLines = deploymentRSLines{known: true, old: oldRSs, cur: newRS}
		}
		texts = append(texts, describeDeployment(d, rsLines, events, time.Now()))
	}
	return texts, failed, nil
}

// deploymentRSLines are a Deployment's ReplicaSets as describe shows them;
// known is false when they could not be read (the lines are left out).
type deploymentRSLines struct {
	known bool
	old   []api.ReplicaSet
	cur   *api.ReplicaSet
}

// describeDeployment renders a Deployment the way `kubectl describe
// deployment` does, its OldReplicaSets and NewReplicaSet included. events
// nil leaves the Events section out.
func describeDeployment(d *api.Deployment, rs deploymentRSLines, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", d.Name)
	w.write(0, "Namespace:\t%s\n", d.Namespace)
	w.write(0, "CreationTimestamp:\t%s\n", rfc1123(d.CreationTimestamp))
	writeLabels(w, "Labels", d.Labels)
	writeAnnotations(w, "Annotations", d.Annotations)
	w.write(0, "Selector:\t%s\n", selectorString(d.Spec.Selector))
	st := d.Status
	w.write(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable\n",
		desiredReplicas(d), st.UpdatedReplicas, st.Replicas, st.AvailableReplicas, st.UnavailableReplicas)
	w.write(0, "StrategyType:\t%s\n", d.Spec.Strategy.Type)
	w.write(0, "MinReadySeconds:\t%d\n", d.Spec.MinReadySeconds)
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		w.write(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", intOrPercent(ru.MaxUnavailable), intOrPercent(ru.MaxSurge))
	}
	describePodTemplate(w, &d.Spec.Template)
	if len(st.Conditions) > 0 {
		w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
		w.write(1, "----\t------\t------\n")
		for _, c := range st.Conditions {
			w.write(1, "%v \t%v\t%v\n", c.Type, c.Status, c.Reason)
		}
	}
	if rs.known {
		w.write(0, "OldReplicaSets:\t%s\n", replicaSetsLine(rs.old))
		var cur []api.ReplicaSet
		if rs.cur != nil {
			cur = []api.ReplicaSet{*rs.cur}
		}
		w.write(0, "NewReplicaSet:\t%s\n", replicaSetsLine(cur))
	}
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

func intOrPercent(v *intstr.IntOrString) string {
	if v == nil {
		return "<unset>"
	}
	return v.String()
}

// describePodTemplate is kubectl's "Pod Template:" section.
func describePodTemplate(w *prefixWriter, t *api.PodTemplateSpec) {
	w.write(0, "Pod Template:\n")
	writeLabels(w, "  Labels", t.Labels)
	if len(t.Annotations) > 0 {
		writeAnnotations(w, "  Annotations", t.Annotations)
	}
	if len(t.Spec.InitContainers) > 0 {
		describeContainers(w, "  ", "Init Containers", t.Spec.InitContainers, nil)
	}
	describeContainers(w, "  ", "Containers", t.Spec.Containers, nil)
	describeVolumes(w, "  ", t.Spec.Volumes)
	writeLabels(w, "  Node-Selectors", t.Spec.NodeSelector)
	w.write(0, "  Tolerations:\t<none>\n")
}

// rolloutStatus is kubectl's DeploymentStatusViewer: the line to print
// for the Deployment as it is, and whether its rollout is done. A status
// of an older generation than the spec says nothing yet.
func rolloutStatus(d *api.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...\n", false, nil
	}
	if c := api.GetDeploymentCondition(d, api.DeploymentProgressing); c != nil && c.Reason == "ProgressDeadlineExceeded" {
		return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
	}
	st := d.Status
	if replicas := desiredReplicas(d); st.UpdatedReplicas < replicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...\n", d.Name, st.UpdatedReplicas, replicas), false, nil
	}
	if st.Replicas > st.UpdatedReplicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...\n", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...\n", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out\n", d.Name), true, nil
}
