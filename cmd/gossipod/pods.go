package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// podTableOptions choose the columns of the pod table.
type podTableOptions struct {
	wide          bool // IP and NODE
	allNamespaces bool // NAMESPACE first
	showLabels    bool // LABELS last
}

func (o podTableOptions) headers() []string {
	var h []string
	if o.allNamespaces {
		h = append(h, "NAMESPACE")
	}
	h = append(h, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	if o.wide {
		h = append(h, "IP", "NODE")
	}
	if o.showLabels {
		h = append(h, "LABELS")
	}
	return h
}

// row is one pod's line of `get pods`.
func (o podTableOptions) row(p *api.Pod, now time.Time) []string {
	var r []string
	if o.allNamespaces {
		r = append(r, p.Namespace)
	}
	cols := podStatusColumns(p, now)
	r = append(r, p.Name, cols.Ready, cols.Status, cols.Restarts, age(p.CreationTimestamp, now))
	if o.wide {
		r = append(r, podIP(p), orNone(p.Spec.NodeName))
	}
	if o.showLabels {
		r = append(r, labelsColumn(p.Labels))
	}
	return r
}

// labelsColumn is kubectl's LABELS cell: k=v pairs sorted, comma-separated.
func labelsColumn(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}

// getPods is `get pods [NAME...]`.
func getPods(c *cli.Context, names []string) error {
	format, err := checkOutput(c, "wide", "json", "yaml", "name")
	if err != nil {
		return err
	}
	all := c.Bool("all-namespaces")
	watch := c.Bool("watch")
	selector, fieldSelector := c.String("selector"), c.String("field-selector")
	switch {
	case len(names) > 0 && all:
		return usageError{errors.New("a resource cannot be retrieved by name across all namespaces")}
	case len(names) > 0 && (selector != "" || fieldSelector != ""):
		return usageError{errors.New("name cannot be provided when a selector is specified")}
	case len(names) > 1 && watch:
		return usageError{fmt.Errorf("watch is only supported on individual resources and resource collections, but %d resources were found", len(names))}
	}
	ns := namespace(c)
	opts := client.ListOptions{Namespace: ns, LabelSelector: selector, FieldSelector: fieldSelector}
	if all {
		opts.Namespace = ""
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()

	var pods []api.Pod
	var listVersion string
	var failed []error
	if len(names) > 0 {
		for _, name := range names {
			p, err := cl.Pod(ctx, ns, name)
			if err != nil {
				if !isNotFound(err) {
					return statusError(err)
				}
				failed = append(failed, statusError(err))
				continue
			}
			pods = append(pods, *p)
		}
		switch {
		case format != "json" && format != "yaml" || len(pods) == 0:
		case len(names) == 1:
			if err := printObject(c.App.Writer, format, &pods[0]); err != nil {
				return err
			}
		default:
			list := api.PodList{TypeMeta: api.TypeMeta{Kind: "List", APIVersion: "v1"}, Items: pods}
			if err := printObject(c.App.Writer, format, &list); err != nil {
				return err
			}
		}
		if len(pods) == 1 {
			listVersion = pods[0].ResourceVersion
		}
	} else {
		list, err := cl.Pods(ctx, opts)
		if err != nil {
			return statusError(err)
		}
		sortPods(list.Items)
		if format == "json" || format == "yaml" {
			if list.Kind == "" {
				list.TypeMeta = api.TypeMeta{Kind: "PodList", APIVersion: "v1"}
			}
			if list.Items == nil {
				list.Items = []api.Pod{}
			}
			if err := printObject(c.App.Writer, format, list); err != nil {
				return err
			}
		}
		pods, listVersion = list.Items, list.ResourceVersion
	}

	printer := newPodPrinter(c.App.Writer, format, podTableOptions{
		wide: format == "wide", allNamespaces: all, showLabels: c.Bool("show-labels"),
	}, !c.Bool("no-headers"))
	if format == "json" || format == "yaml" {
		printer.objects = 1 // the object or list above
	} else if err := printer.print(pods, time.Now()); err != nil {
		return err
	}
	if len(pods) == 0 && len(names) == 0 && format != "json" && format != "yaml" {
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

	// -w: a row (or object) per change, from the version listed on, until
	// interrupted.
	if len(names) == 1 {
		opts.FieldSelector = "metadata.name=" + names[0]
	}
	wctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return watchPods(wctx, cl, opts, listVersion, func(_ string, p *api.Pod) error {
		return printer.print([]api.Pod{*p}, time.Now())
	})
}

// sortPods orders pods by namespace, then name, as the API lists them.
func sortPods(pods []api.Pod) {
	slices.SortStableFunc(pods, func(a, b api.Pod) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// podPrinter prints pods in one -o format, a batch at a time: the table's
// header comes before the first row, and rows printed later (get -w) stay
// aligned with the ones before.
type podPrinter struct {
	w       io.Writer
	format  string
	opts    podTableOptions
	headers bool
	table   *alignedRows
	// objects counts the JSON or YAML documents printed, for YAML's "---".
	objects int
}

func newPodPrinter(w io.Writer, format string, opts podTableOptions, headers bool) *podPrinter {
	return &podPrinter{w: w, format: format, opts: opts, headers: headers, table: &alignedRows{w: w}}
}

func (p *podPrinter) print(pods []api.Pod, now time.Time) error {
	switch p.format {
	case "json", "yaml":
		for i := range pods {
			if p.format == "yaml" && p.objects > 0 {
				fmt.Fprintln(p.w, "---")
			}
			if err := printObject(p.w, p.format, &pods[i]); err != nil {
				return err
			}
			p.objects++
		}
		return nil
	case "name":
		for _, pod := range pods {
			if _, err := fmt.Fprintf(p.w, "pod/%s\n", pod.Name); err != nil {
				return err
			}
		}
		return nil
	}
	var rows [][]string
	if p.headers && p.table.widths == nil && len(pods) > 0 {
		rows = append(rows, p.opts.headers())
	}
	for i := range pods {
		rows = append(rows, p.opts.row(&pods[i], now))
	}
	return p.table.write(rows...)
}

// alignedRows writes table rows the way newTable does (columns three spaces
// apart, the last one unpadded), one batch at a time: each column is as wide
// as the widest cell it has held so far, so rows written later line up with
// the ones before unless they are wider.
type alignedRows struct {
	w      io.Writer
	widths []int
}

func (a *alignedRows) write(rows ...[]string) error {
	for _, r := range rows {
		for i, cell := range r {
			if i == len(r)-1 {
				break
			}
			for len(a.widths) <= i {
				a.widths = append(a.widths, 0)
			}
			a.widths[i] = max(a.widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", a.widths[i]-utf8.RuneCountInString(cell)+3))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(a.w, b.String())
	return err
}

// watchPods follows the pods of opts from version on, calling fn for every
// change, until ctx ends. A stream the server ends is resumed from the last
// version seen; an ERROR event or a failed request ends the watch with it.
func watchPods(ctx context.Context, cl *client.Client, opts client.ListOptions, version string, fn func(eventType string, p *api.Pod) error) error {
	return watchObjects(ctx, cl.WatchPods, opts, version, fn)
}

// watchObjects follows a collection's watch (cl.WatchPods,
// cl.WatchDeployments) from version on, calling fn with every changed
// object, until ctx ends. A stream the server ends is resumed from the last
// version seen, as kubectl's watch does; an ERROR event or a failed request
// ends the watch with it.
func watchObjects[T any, P interface {
	*T
	api.Object
}](ctx context.Context, watch func(context.Context, client.ListOptions, func(client.WatchEvent) bool) error,
	opts client.ListOptions, version string, fn func(eventType string, obj P) error) error {
	for {
		opts.ResourceVersion = version
		var stop error
		err := watch(ctx, opts, func(e client.WatchEvent) bool {
			switch e.Type {
			case "ERROR":
				var s api.Status
				if err := json.Unmarshal(e.Object, &s); err != nil || s.Kind != "Status" {
					stop = fmt.Errorf("watch: %s", e.Object)
				} else {
					stop = statusError(&s)
				}
				return false
			case "BOOKMARK":
				var obj P = new(T)
				if json.Unmarshal(e.Object, obj) == nil && obj.GetResourceVersion() != "" {
					version = obj.GetResourceVersion()
				}
				return true
			}
			var obj P = new(T)
			if err := json.Unmarshal(e.Object, obj); err != nil {
				stop = fmt.Errorf("watch: decode %s event: %w", e.Type, err)
				return false
			}
			if rv := obj.GetResourceVersion(); rv != "" {
				version = rv
			}
			if err := fn(e.Type, obj); err != nil {
				stop = err
				return false
			}
			return true
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case stop != nil:
			return stop
		case err != nil:
			var s *api.Status
			if errors.As(err, &s) {
				return statusError(err)
			}
			// The agent went away: try again, as kubectl's watch does.
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
