package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api/client"
)

// acceptTable asks the server to print: kubectl's Accept header for get,
// answered with a meta.k8s.io/v1 Table whose columns are the kind's.
const acceptTable = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// getRequest is one `get`: what to print and how, for every kind the
// server's discovery lists.
type getRequest struct {
	format        string // "", wide, json, yaml or name
	namespace     string // "" with -A
	allNamespaces bool
	selector      string
	fieldSelector string
	noHeaders     bool
	showLabels    bool
	// roles are gossipod's node roles (the node's Raft suffrage, or
	// leader), shown in ROLES for a node without role labels.
	roles map[string]string
}

// getAny is `get` through the server's Tables: resolve the types through
// discovery, request each list or object as a Table (or as JSON for -o
// json|yaml), and print them as kubectl does.
func getAny(c *cli.Context, args []string) error {
	format, err := checkOutput(c, "wide", "json", "yaml", "name")
	if err != nil {
		return err
	}
	req := getRequest{format: format, namespace: namespace(c), allNamespaces: c.Bool("all-namespaces"),
		selector: c.String("selector"), fieldSelector: c.String("field-selector"),
		noHeaders: c.Bool("no-headers"), showLabels: c.Bool("show-labels")}
	if req.allNamespaces {
		req.namespace = ""
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	resources, err := discover(ctx, cl)
	if err != nil {
		return err
	}
	types, names, err := typedArgs(resources, args, "get")
	if err != nil {
		return err
	}
	named := false
	for _, n := range names {
		named = named || len(n) > 0
	}
	switch {
	case named && req.allNamespaces:
		return usageError{errors.New("a resource cannot be retrieved by name across all namespaces")}
	case named && (req.selector != "" || req.fieldSelector != ""):
		return usageError{errors.New("name cannot be provided when a selector is specified")}
	}
	for _, r := range types {
		if !r.has("list") && !named || !r.has("get") && named {
			return usageError{fmt.Errorf("the server does not allow getting %s", r.groupResource())}
		}
		if r.Resource == "nodes" && r.Group == "" && format != "json" && format != "yaml" && format != "name" {
			req.roles = raftRoles(ctx, cl)
		}
	}
	if format == "json" || format == "yaml" {
		return req.printObjects(ctx, c, cl, types, names)
	}

	var failed []error
	printed := 0
	for i, r := range types {
		var tables []*metav1.Table
		if len(names[i]) == 0 {
			t, err := req.table(ctx, cl, r, "")
			if err != nil {
				return statusError(err)
			}
			tables = append(tables, t)
		}
		for _, name := range names[i] {
			t, err := req.table(ctx, cl, r, name)
			if err != nil {
				if !isNotFound(err) {
					return statusError(err)
				}
				failed = append(failed, statusError(err))
				continue
			}
			tables = append(tables, t)
		}
		rows := 0
		for _, t := range tables {
			rows += len(t.Rows)
		}
		if rows == 0 {
			continue
		}
		if format == "name" {
			for _, t := range tables {
				for _, row := range t.Rows {
					fmt.Fprintf(c.App.Writer, "%s/%s\n", r.nameKind(), rowMeta(row).Name)
				}
			}
			printed++
			continue
		}
		if printed > 0 {
			fmt.Fprintln(c.App.Writer)
		}
		// Several types at once (get all, get pods,svc): each table's
		// names carry their kind, as kubectl prints them.
		prefix := ""
		if len(types) > 1 {
			prefix = r.nameKind() + "/"
		}
		if err := req.print(c.App.Writer, r, tables, prefix); err != nil {
			return err
		}
		printed++
	}
	if printed == 0 && !named {
		if req.namespace == "" || !anyNamespaced(types) {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
		} else {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", req.namespace)
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

func anyNamespaced(types []apiResource) bool {
	for _, r := range types {
		if r.Namespaced {
			return true
		}
	}
	return false
}

// query is the list request's selectors.
func (req getRequest) query() string {
	q := url.Values{}
	if req.selector != "" {
		q.Set("labelSelector", req.selector)
	}
	if req.fieldSelector != "" {
		q.Set("fieldSelector", req.fieldSelector)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// table gets the Table of r's collection, or of the object name.
func (req getRequest) table(ctx context.Context, cl *client.Client, r apiResource, name string) (*metav1.Table, error) {
	path := r.path(req.namespace, name)
	if name == "" {
		path += req.query()
	}
	var t metav1.Table
	if err := cl.DoAccept(ctx, http.MethodGet, path, acceptTable, nil, &t); err != nil {
		return nil, err
	}
	if t.Kind != "Table" {
		return nil, fmt.Errorf("get %s: the server answered %q, not a Table", path, t.Kind)
	}
	return &t, nil
}

// print writes tables of one resource as one kubectl table: the columns of
// priority 0 (all with -o wide), NAMESPACE first with -A, LABELS last with
// --show-labels, the header unless --no-headers.
func (req getRequest) print(w io.Writer, r apiResource, tables []*metav1.Table, namePrefix string) error {
	columns := tables[0].ColumnDefinitions
	var show []int
	for i, col := range columns {
		if col.Priority == 0 || req.format == "wide" {
			show = append(show, i)
		}
	}
	withNamespace := req.allNamespaces && r.Namespaced
	var headers []string
	if withNamespace {
		headers = append(headers, "NAMESPACE")
	}
	for _, i := range show {
		headers = append(headers, strings.ToUpper(columns[i].Name))
	}
	if req.showLabels {
		headers = append(headers, "LABELS")
	}
	if req.noHeaders {
		headers = nil
	}
	t := newTable(w, headers...)
	for _, tab := range tables {
		for _, row := range tab.Rows {
			meta := rowMeta(row)
			var cols []string
			if withNamespace {
				cols = append(cols, meta.Namespace)
			}
			for _, i := range show {
				cell := ""
				if i < len(row.Cells) {
					cell = cellString(row.Cells[i])
				}
				if columns[i].Format == "name" {
					cell = namePrefix + cell
				}
				if req.roles != nil && columns[i].Name == "Roles" && cell == "<none>" && req.roles[meta.Name] != "" {
					cell = req.roles[meta.Name]
				}
				cols = append(cols, cell)
			}
			if req.showLabels {
				cols = append(cols, labelsString(meta.Labels))
			}
			t.row(cols...)
		}
	}
	return t.flush()
}

// rowMeta is the metadata of a row's object (the server includes it,
// includeObject=Metadata being the default).
func rowMeta(row metav1.TableRow) metav1.ObjectMeta {
	var o struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if len(row.Object.Raw) > 0 {
		_ = json.Unmarshal(row.Object.Raw, &o)
	}
	return o.Metadata
}

// cellString prints a cell as kubectl does (fmt's %v), integers as
// integers (JSON numbers decode as float64), nil as <none>.
func cellString(v any) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		return v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// labelsString is kubectl's LABELS column: k=v sorted by key, or <none>.
func labelsString(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ",")
}

// printObjects is -o json|yaml: the object when one was named, the list of
// the collection when one type was listed, else a v1 List of them all, as
// kubectl prints them.
func (req getRequest) printObjects(ctx context.Context, c *cli.Context, cl *client.Client, types []apiResource, names [][]string) error {
	var items []map[string]any
	var failed []error
	count := 0
	for i, r := range types {
		if len(names[i]) == 0 {
			var list map[string]any
			if err := cl.Do(ctx, http.MethodGet, r.path(req.namespace, "")+req.query(), nil, &list); err != nil {
				return statusError(err)
			}
			if len(types) == 1 {
				if list["items"] == nil {
					list["items"] = []any{}
				}
				return printObject(c.App.Writer, req.format, list)
			}
			raw, _ := list["items"].([]any)
			for _, it := range raw {
				if m, ok := it.(map[string]any); ok {
					// List items carry no kind of their own.
					m["apiVersion"], m["kind"] = r.apiVersion(), r.Kind
					items = append(items, m)
				}
			}
			continue
		}
		for _, name := range names[i] {
			count++
			var o map[string]any
			if err := cl.Do(ctx, http.MethodGet, r.path(req.namespace, name), nil, &o); err != nil {
				if !isNotFound(err) {
					return statusError(err)
				}
				failed = append(failed, statusError(err))
				continue
			}
			items = append(items, o)
		}
	}
	switch {
	case count == 1 && len(types) == 1 && len(items) == 1:
		if err := printObject(c.App.Writer, req.format, items[0]); err != nil {
			return err
		}
	case len(items) > 0 || count == 0:
		if items == nil {
			items = []map[string]any{}
		}
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items,
			"metadata": map[string]any{"resourceVersion": ""}}
		if err := printObject(c.App.Writer, req.format, list); err != nil {
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
