package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"

	"k8s.io/apimachinery/pkg/api/equality"
)

// replicaSetKind is how kubectl names ReplicaSets in its messages.
const replicaSetKind = "replicaset.apps"

// getReplicaSets is `get rs`: kubectl's columns NAME, DESIRED, CURRENT,
// READY, AGE (wide: CONTAINERS, IMAGES, SELECTOR), or -o json|yaml|name.
func getReplicaSets(c *cli.Context, names []string) error {
	format, err := checkOutput(c, "wide", "json", "yaml", "name")
	if err != nil {
		return err
	}
	for _, f := range []string{"field-selector", "watch"} {
		if c.IsSet(f) {
			return usageError{fmt.Errorf("--%s is not supported for replicasets", f)}
		}
	}
	all := c.Bool("all-namespaces")
	switch {
	case len(names) > 0 && all:
		return usageError{errors.New("a resource cannot be retrieved by name across all namespaces")}
	case len(names) > 0 && c.IsSet("selector"):
		return usageError{errors.New("name cannot be provided when a selector is specified")}
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	ns := namespace(c)
	var rss []api.ReplicaSet
	var failed []error
	if len(names) > 0 {
		for _, name := range names {
			rs, err := cl.ReplicaSet(ctx, ns, name)
			if err != nil {
				if !isNotFound(err) {
					return statusError(err)
				}
				failed = append(failed, statusError(err))
				continue
			}
			rss = append(rss, *rs)
		}
	} else {
		opts := client.ListOptions{Namespace: ns, LabelSelector: c.String("selector")}
		if all {
			opts.Namespace = ""
		}
		list, err := cl.ReplicaSets(ctx, opts)
		if err != nil {
			return statusError(err)
		}
		rss = list.Items
	}
	sortReplicaSets(rss)
	switch {
	case format == "json" || format == "yaml":
		var err error
		if len(names) == 1 && len(rss) == 1 {
			err = printObject(c.App.Writer, format, &rss[0])
		} else if len(names) == 0 || len(rss) > 0 {
			if rss == nil {
				rss = []api.ReplicaSet{}
			}
			err = printObject(c.App.Writer, format, &api.ReplicaSetList{TypeMeta: api.TypeMeta{Kind: "ReplicaSetList", APIVersion: "apps/v1"}, Items: rss})
		}
		if err != nil {
			return err
		}
	case format == "name":
		for _, rs := range rss {
			fmt.Fprintf(c.App.Writer, "%s/%s\n", replicaSetKind, rs.Name)
		}
	case len(rss) == 0 && len(failed) == 0:
		if all {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
		} else {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
	case len(rss) > 0:
		headers := []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"}
		if all {
			headers = append([]string{"NAMESPACE"}, headers...)
		}
		if format == "wide" {
			headers = append(headers, "CONTAINERS", "IMAGES", "SELECTOR")
		}
		if c.Bool("show-labels") {
			headers = append(headers, "LABELS")
		}
		t := &table{tw: tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)}
		if !c.Bool("no-headers") {
			t.row(headers...)
		}
		now := time.Now()
		for i := range rss {
			t.row(replicaSetRow(&rss[i], now, all, format == "wide", c.Bool("show-labels"))...)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	for _, err := range failed {
		fmt.Fprintln(c.App.ErrWriter, errorMessage(err))
	}
	if len(failed) > 0 {
		return reportedError{len(failed)}
	}
	return nil
}

// replicaSetRow is one line of `get rs`, as kubectl prints it.
func replicaSetRow(rs *api.ReplicaSet, now time.Time, allNamespaces, wide, showLabels bool) []string {
	var r []string
	if allNamespaces {
		r = append(r, rs.Namespace)
	}
	r = append(r, rs.Name, fmt.Sprint(replicaSetReplicas(rs)), fmt.Sprint(rs.Status.Replicas), fmt.Sprint(rs.Status.ReadyReplicas),
		age(rs.CreationTimestamp, now))
	if wide {
		var names, images []string
		for _, c := range rs.Spec.Template.Spec.Containers {
			names = append(names, c.Name)
			images = append(images, c.Image)
		}
		r = append(r, strings.Join(names, ","), strings.Join(images, ","), selectorString(rs.Spec.Selector))
	}
	if showLabels {
		r = append(r, labelsColumn(rs.Labels))
	}
	return r
}

// replicaSetReplicas is spec.replicas, 1 when unset.
func replicaSetReplicas(rs *api.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return api.DefaultDeploymentReplicas
	}
	return *rs.Spec.Replicas
}

func sortReplicaSets(rss []api.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b api.ReplicaSet) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// describeReplicaSets renders the named ReplicaSets, or those the selector
// (or nothing) picks in the namespace, with their pods' phases and events.
func describeReplicaSets(c *cli.Context, cl *client.Client, names []string) ([]string, []error, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	ns := namespace(c)
	var rss []api.ReplicaSet
	var failed []error
	if len(names) == 0 {
		list, err := cl.ReplicaSets(ctx, client.ListOptions{Namespace: ns, LabelSelector: c.String("selector")})
		if err != nil {
			return nil, nil, statusError(err)
		}
		if len(list.Items) == 0 {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
		sortReplicaSets(list.Items)
		rss = list.Items
	}
	for _, name := range names {
		rs, err := cl.ReplicaSet(ctx, ns, name)
		if err != nil {
			if !isNotFound(err) {
				return nil, nil, statusError(err)
			}
			failed = append(failed, statusError(err))
			continue
		}
		rss = append(rss, *rs)
	}
	var texts []string
	for i := range rss {
		rs := &rss[i]
		var pods []api.Pod
		if sel, err := api.LabelSelectorAsSelector(rs.Spec.Selector); err == nil {
			if list, err := cl.Pods(ctx, client.ListOptions{Namespace: rs.Namespace, LabelSelector: sel.String()}); err == nil {
				for _, p := range list.Items {
					if controllerUID(&p) == rs.UID {
						pods = append(pods, p)
					}
				}
			}
		}
		var events []api.Event
		if el, err := cl.Events(ctx, client.ListOptions{Namespace: rs.Namespace, FieldSelector: "involvedObject.uid=" + string(rs.UID)}); err == nil {
			events = el.Items
			if events == nil {
				events = []api.Event{}
			}
		}
		texts = append(texts, describeReplicaSet(rs, pods, events, time.Now()))
	}
	return texts, failed, nil
}

// describeReplicaSet renders a ReplicaSet the way `kubectl describe rs`
// does. events nil leaves the Events section out.
func describeReplicaSet(rs *api.ReplicaSet, pods []api.Pod, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", rs.Name)
	w.write(0, "Namespace:\t%s\n", rs.Namespace)
	w.write(0, "Selector:\t%s\n", selectorString(rs.Spec.Selector))
	writeLabels(w, "Labels", rs.Labels)
	writeAnnotations(w, "Annotations", rs.Annotations)
	if r := api.ControllerOf(&rs.ObjectMeta); r != nil {
		w.write(0, "Controlled By:\t%s/%s\n", r.Kind, r.Name)
	}
	w.write(0, "Replicas:\t%d current / %d desired\n", rs.Status.Replicas, replicaSetReplicas(rs))
	var running, waiting, succeeded, failed int
	for _, p := range pods {
		switch p.Status.Phase {
		case api.PodRunning:
			running++
		case api.PodPending:
			waiting++
		case api.PodSucceeded:
			succeeded++
		case api.PodFailed:
			failed++
		}
	}
	w.write(0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed\n", running, waiting, succeeded, failed)
	describePodTemplate(w, &rs.Spec.Template)
	if len(rs.Status.Conditions) > 0 {
		w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
		w.write(1, "----\t------\t------\n")
		for _, c := range rs.Status.Conditions {
			w.write(1, "%v \t%v\t%v\n", c.Type, c.Status, c.Reason)
		}
	}
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// deploymentReplicaSets returns a Deployment's ReplicaSets as kubectl's
// describe finds them: listed by the Deployment's selector, controlled by
// it; the new one has the Deployment's template (the hash label aside),
// the old ones shown are those that still have replicas. nil, nil when
// they cannot be read.
func deploymentReplicaSets(ctx context.Context, cl *client.Client, d *api.Deployment) (oldRSs []api.ReplicaSet, newRS *api.ReplicaSet, err error) {
	sel, err := api.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil, err
	}
	list, err := cl.ReplicaSets(ctx, client.ListOptions{Namespace: d.Namespace, LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, err
	}
	owned := slices.DeleteFunc(list.Items, func(rs api.ReplicaSet) bool { return !api.IsControlledBy(&rs.ObjectMeta, d.UID) })
	slices.SortStableFunc(owned, func(a, b api.ReplicaSet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range owned {
		rs := &owned[i]
		if newRS == nil && templateMatches(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		if replicaSetReplicas(rs) != 0 {
			oldRSs = append(oldRSs, *rs)
		}
	}
	return oldRSs, newRS, nil
}

// templateMatches compares a ReplicaSet's template with a Deployment's,
// the pod-template-hash label aside, as kubectl does.
func templateMatches(rsTemplate, dTemplate *api.PodTemplateSpec) bool {
	t := cloneJSON(rsTemplate)
	delete(t.Labels, api.LabelPodTemplateHash)
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	return equality.Semantic.DeepEqual(t, dTemplate)
}

// replicaSetsLine is kubectl's "name (current/desired replicas created)"
// list, <none> when empty.
func replicaSetsLine(rss []api.ReplicaSet) string {
	if len(rss) == 0 {
		return "<none>"
	}
	var parts []string
	for _, rs := range rss {
		parts = append(parts, fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, replicaSetReplicas(&rs)))
	}
	return strings.Join(parts, ", ")
}

// applyReplicaSet creates the ReplicaSet, or updates it where it differs
// from the manifest, as applyDeployment does: a manifest without
// spec.replicas keeps the live count, and the Deployment controller's
// annotations on a ReplicaSet it made stay.
func applyReplicaSet(ctx context.Context, cl *client.Client, desired *api.ReplicaSet, source string) (applyResult, *api.ReplicaSet, error) {
	for attempt := 1; ; attempt++ {
		live, err := cl.ReplicaSet(ctx, desired.Namespace, desired.Name)
		if isNotFound(err) {
			create := cloneJSON(desired)
			clearReplicaSetServerFields(create)
			create.UID, create.ResourceVersion = "", ""
			created, err := cl.CreateReplicaSet(ctx, create)
			if err == nil {
				return applyCreated, created, nil
			}
			if hasReason(err, api.StatusReasonAlreadyExists) && attempt < applyAttempts {
				continue
			}
			return "", nil, withContext(err, fmt.Sprintf("error when creating %q: ", source))
		}
		if err != nil {
			return "", nil, withContext(err, fmt.Sprintf("error when retrieving current configuration of %s %q from server for: %q: ", replicaSetKind, desired.Name, source))
		}
		update := cloneJSON(desired)
		clearReplicaSetServerFields(update)
		if update.Spec.Replicas == nil && live.Spec.Replicas != nil {
			r := *live.Spec.Replicas
			update.Spec.Replicas = &r
		}
		for k, v := range live.Annotations {
			if _, set := update.Annotations[k]; !set && strings.HasPrefix(k, "deployment.kubernetes.io/") {
				if update.Annotations == nil {
					update.Annotations = map[string]string{}
				}
				update.Annotations[k] = v
			}
		}
		want, have := cloneJSON(update), cloneJSON(live)
		api.SetReplicaSetDefaults(want)
		api.SetReplicaSetDefaults(have)
		if maps.Equal(want.Labels, have.Labels) && maps.Equal(want.Annotations, have.Annotations) && equality.Semantic.DeepEqual(want.Spec, have.Spec) {
			return applyUnchanged, live, nil
		}
		update.UID, update.ResourceVersion = live.UID, live.ResourceVersion
		updated, err := cl.UpdateReplicaSet(ctx, update)
		if err == nil {
			return applyConfigured, updated, nil
		}
		if (hasReason(err, api.StatusReasonConflict) || isNotFound(err)) && attempt < applyAttempts {
			continue
		}
		return "", nil, withContext(err, fmt.Sprintf("error when updating %q: ", source))
	}
}

// clearReplicaSetServerFields drops what the cluster sets from a manifest
// (one may be the output of `get rs -o yaml`).
func clearReplicaSetServerFields(rs *api.ReplicaSet) {
	rs.Status = api.ReplicaSetStatus{}
	rs.CreationTimestamp = api.Time{}
	rs.DeletionTimestamp, rs.DeletionGracePeriodSeconds, rs.Finalizers = nil, nil, nil
	rs.Generation = 0
}
