package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/apiserver/patch"
	"github.com/gossipod/gossipod/consensus"
)

// objectPtr is the pointer type of an API object type T.
type objectPtr[T any] interface {
	*T
	api.Object
}

// fieldLabel is one field a list's fieldSelector may name, with how to
// read it from an object.
type fieldLabel[T any] struct {
	name  string
	value func(*T) string
}

// resource is one kind the server serves, in the manner of a
// kube-apiserver registry Store: its names, scope and verbs come from
// discovery's table (so discovery, OpenAPI and the routes never disagree),
// reads come from the committed state, and its strategy (create, update,
// remove) checks a request and commits the command that carries it out.
// The FSM checks every command again. A nil strategy function means the
// verb is not served; discovery must not list it then.
type resource[T any, PT objectPtr[T]] struct {
	s    *Server
	info discovery.Resource
	// fields are the field selector's labels beyond metadata.name and,
	// for a namespaced kind, metadata.namespace.
	fields []fieldLabel[T]
	// get reads one object; the State returns a copy or a shared
	// immutable object, which the handlers never change.
	get func(st *consensus.State, ns, name string) (*T, bool)
	// list reads the objects keep selects (in ns, "" for all), sorted,
	// with the State's index they reflect.
	list func(st *consensus.State, ns string, keep func(*T) bool) ([]*T, uint64)
	// newList wraps items in the kind's List type.
	newList func(items []T, meta api.ListMeta) any
	// create commits a new object, decoded and in the URL's namespace,
	// with a fresh uid and no resourceVersion; it defaults and validates
	// it first.
	create func(ctx context.Context, obj PT) (PT, error)
	// update commits obj, decoded, named as the URL says and in its
	// namespace, over old, the stored object: PUT's and PATCH's path.
	update func(ctx context.Context, old, obj PT) (PT, error)
	// remove deletes the object named name, by the request's options,
	// and returns it as the delete left it.
	remove func(ctx context.Context, ns, name string, o *api.DeleteOptions) (PT, error)
	// decodePatched decodes a patched object; nil decodes it as a
	// request body is decoded, by its kind.
	decodePatched func(b []byte) (PT, error)
}

// qualified is the resource's name in errors, as kube-apiserver writes
// it: "pods", "deployments.apps".
func (r *resource[T, PT]) qualified() string {
	if r.info.Group == "" {
		return r.info.Resource
	}
	return r.info.Resource + "." + r.info.Group
}

// what names the kind in "expected a v1 Pod in the request body".
func (r *resource[T, PT]) what() string {
	gv := r.info.GroupVersion().String()
	article := "a"
	if strings.ContainsRune("aeiou", rune(gv[0])) {
		article = "an"
	}
	return article + " " + gv + " " + r.info.Kind
}

// routes lists the resource's paths: the collection (and, for a
// namespaced kind, the collection across all namespaces), the object, and
// its status subresource when discovery lists one.
func (r *resource[T, PT]) routes() []Route {
	prefix := "/apis/" + r.info.GroupVersion().String()
	if r.info.Group == "" {
		prefix = "/api/" + r.info.Version
	}
	collection := prefix + "/" + r.info.Resource
	if r.info.Namespaced {
		collection = prefix + "/namespaces/{namespace}/" + r.info.Resource
	}
	item := collection + "/{name}"
	var out []Route
	add := func(path string, methods map[string]http.HandlerFunc) {
		if len(methods) > 0 {
			out = append(out, Route{Path: path, Methods: methods})
		}
	}
	// Each verb discovery lists, as the method and handler that serve it
	// on the collection or on the object.
	coll := map[string]http.HandlerFunc{}
	obj := map[string]http.HandlerFunc{}
	for _, v := range []struct {
		verb, method string
		on           map[string]http.HandlerFunc
		serve        http.HandlerFunc
	}{
		{"list", http.MethodGet, coll, r.serveList},
		{"create", http.MethodPost, coll, r.serveCreate},
		{"deletecollection", http.MethodDelete, coll, r.serveDeleteCollection},
		{"get", http.MethodGet, obj, r.serveGet},
		{"update", http.MethodPut, obj, r.serveUpdate},
		{"patch", http.MethodPatch, obj, r.servePatch},
		{"delete", http.MethodDelete, obj, r.serveDelete},
	} {
		if r.info.Has(v.verb) {
			v.on[v.method] = v.serve
		}
	}
	add(collection, coll)
	if r.info.Namespaced && r.info.Has("list") {
		add(prefix+"/"+r.info.Resource, map[string]http.HandlerFunc{http.MethodGet: r.serveList})
	}
	add(item, obj)
	for _, sub := range r.info.Subresources {
		// The status subresource reads as the object itself, as in
		// Kubernetes (`kubectl get --subresource=status`); its writers
		// are the agents and controllers, through the log.
		if sub.Name == "status" && sub.Has("get") {
			add(item+"/status", map[string]http.HandlerFunc{http.MethodGet: r.serveGet})
		}
	}
	return out
}

// selected returns the function that says whether an object is in ns
// ("" for all) and selected by sel.
func (r *resource[T, PT]) selected(ns string, sel listSelector) func(*T) bool {
	return func(o *T) bool {
		p := PT(o)
		if ns != "" && p.GetNamespace() != ns {
			return false
		}
		set := fields.Set{"metadata.name": p.GetName()}
		if r.info.Namespaced {
			set["metadata.namespace"] = p.GetNamespace()
		}
		for _, f := range r.fields {
			set[f.name] = f.value(o)
		}
		return sel.matches(p.GetLabels(), set)
	}
}

// fieldLabels are the fields a fieldSelector may name.
func (r *resource[T, PT]) fieldLabels() []string {
	out := []string{"metadata.name"}
	if r.info.Namespaced {
		out = append(out, "metadata.namespace")
	}
	for _, f := range r.fields {
		out = append(out, f.name)
	}
	return out
}

// serveList serves a list, or with ?watch a watch, of the objects its
// selectors select.
func (r *resource[T, PT]) serveList(w http.ResponseWriter, req *http.Request) {
	if IsWatch(req) && !r.info.Has("watch") {
		WriteError(w, api.NewStatus(http.StatusMethodNotAllowed, api.StatusReasonMethodNotAllowed,
			fmt.Sprintf("the server does not allow this method on the requested resource: watch %s", r.qualified())))
		return
	}
	if !r.s.ConsistentRead(w, req) {
		return
	}
	ns := req.PathValue("namespace")
	sel, err := parseListSelector(req, r.fieldLabels()...)
	if err != nil {
		WriteError(w, err)
		return
	}
	keep := r.selected(ns, sel)
	list := func() ([]*T, uint64) { return r.list(r.s.b.State(), ns, keep) }
	if IsWatch(req) {
		serveKindWatch(r.s, w, req, r.info.GroupVersionKind(), keep, list)
		return
	}
	objs, index := list()
	items := make([]T, len(objs))
	for i, o := range objs {
		items[i] = *o
	}
	writeObject(w, req, http.StatusOK, r.newList(items, api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)}))
}

// serveGet serves one object, as a Table when the client asks for one.
func (r *resource[T, PT]) serveGet(w http.ResponseWriter, req *http.Request) {
	if !r.s.ConsistentRead(w, req) {
		return
	}
	name := req.PathValue("name")
	o, ok := r.get(r.s.b.State(), req.PathValue("namespace"), name)
	if !ok {
		WriteError(w, api.NewNotFound(r.qualified(), name))
		return
	}
	writeObject(w, req, http.StatusOK, o)
}

// readBody decodes a create's or update's body into one object of the
// resource's kind, in the URL's namespace.
func (r *resource[T, PT]) readBody(req *http.Request) (PT, error) {
	obj, err := readObject(req)
	if err != nil {
		return nil, err
	}
	return asKind[PT](obj, r.info.Namespaced, req.PathValue("namespace"), r.what())
}

// serveCreate serves POST on the collection.
func (r *resource[T, PT]) serveCreate(w http.ResponseWriter, req *http.Request) {
	obj, err := r.readBody(req)
	if err != nil {
		WriteError(w, err)
		return
	}
	obj.SetUID(NewUID())
	obj.SetResourceVersion("")
	out, err := r.create(req.Context(), obj)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusCreated, out)
}

// serveUpdate serves PUT on an object (kubectl replace, client-go Update).
func (r *resource[T, PT]) serveUpdate(w http.ResponseWriter, req *http.Request) {
	obj, err := r.readBody(req)
	if err != nil {
		WriteError(w, err)
		return
	}
	out, err := r.updateStored(req.Context(), req.PathValue("name"), obj)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// updateStored runs the strategy's update of obj over the stored object
// named name.
func (r *resource[T, PT]) updateStored(ctx context.Context, name string, obj PT) (PT, error) {
	if obj.GetName() != name {
		return nil, nameMismatch(obj.GetName(), name)
	}
	old, ok := r.get(r.s.b.State(), obj.GetNamespace(), name)
	if !ok {
		return nil, api.NewNotFound(r.qualified(), name)
	}
	return r.update(ctx, old, obj)
}

// servePatch serves PATCH on an object: kubectl apply's strategic merge
// patch, label's and annotate's merge patches, and JSON patches. The
// patched object goes through the update strategy, PUT's path.
func (r *resource[T, PT]) servePatch(w http.ResponseWriter, req *http.Request) {
	ns, name := req.PathValue("namespace"), req.PathValue("name")
	decode := r.decodePatched
	if decode == nil {
		decode = func(b []byte) (PT, error) {
			obj, err := decodePatched(b)
			if err != nil {
				return nil, err
			}
			return asKind[PT](obj, r.info.Namespaced, ns, r.what())
		}
	}
	servePatch(w, req, patch.Target[PT]{
		Kind:   r.info.Kind,
		Schema: reflect.New(r.info.Object).Interface().(runtime.Object),
		Get: func(ctx context.Context) (PT, error) {
			if err := r.s.SyncRead(ctx); err != nil {
				return nil, err
			}
			o, ok := r.get(r.s.b.State(), ns, name)
			if !ok {
				return nil, api.NewNotFound(r.qualified(), name)
			}
			c := *o // shared with the state: set the kind on a copy
			PT(&c).GetObjectKind().SetGroupVersionKind(r.info.GroupVersionKind())
			return &c, nil
		},
		Decode:          decode,
		ResourceVersion: func(o PT) string { return o.GetResourceVersion() },
		Update: func(ctx context.Context, _, patched PT) (PT, error) {
			return r.updateStored(ctx, name, patched)
		},
	})
}

// serveDelete serves DELETE on an object, with its DeleteOptions.
func (r *resource[T, PT]) serveDelete(w http.ResponseWriter, req *http.Request) {
	o, err := readDeleteOptions(req)
	if err != nil {
		WriteError(w, err)
		return
	}
	out, err := r.remove(req.Context(), req.PathValue("namespace"), req.PathValue("name"), o)
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// serveDeleteCollection serves DELETE on the collection: every object the
// selectors select is deleted with the request's options, one command
// each, as kube-apiserver's DeleteCollection does; one deleted meanwhile
// by someone else is skipped. The answer is the List of the objects as
// their deletes left them.
func (r *resource[T, PT]) serveDeleteCollection(w http.ResponseWriter, req *http.Request) {
	o, err := readDeleteOptions(req)
	if err != nil {
		WriteError(w, err)
		return
	}
	if !r.s.ConsistentRead(w, req) {
		return
	}
	ns := req.PathValue("namespace")
	sel, err := parseListSelector(req, r.fieldLabels()...)
	if err != nil {
		WriteError(w, err)
		return
	}
	objs, _ := r.list(r.s.b.State(), ns, r.selected(ns, sel))
	items := make([]T, 0, len(objs))
	var index uint64
	for _, obj := range objs {
		p := PT(obj)
		out, err := r.remove(req.Context(), p.GetNamespace(), p.GetName(), o)
		var st *api.Status
		if errors.As(err, &st) && st.Code == http.StatusNotFound {
			continue
		}
		if err != nil {
			WriteError(w, err)
			return
		}
		if rv, err := strconv.ParseUint(out.GetResourceVersion(), 10, 64); err == nil {
			index = max(index, rv)
		}
		items = append(items, *out)
	}
	WriteJSON(w, http.StatusOK, r.newList(items, api.ListMeta{ResourceVersion: strconv.FormatUint(index, 10)}))
}

// commitObject is the tail of most strategies: commit a command of type t
// with payload and return the object as the FSM left it.
func commitObject[T any, PT objectPtr[T]](ctx context.Context, b Backend, t consensus.CommandType, payload any) (PT, error) {
	cmd, err := consensus.NewCommand(t, payload)
	if err != nil {
		return nil, err
	}
	out, err := CommitFor[T](ctx, b, cmd)
	if err != nil {
		return nil, err
	}
	return PT(out), nil
}

// discoveryEntry returns discovery's entry for resource; the table is
// static, so a missing entry is a programming error.
func discoveryEntry(all []discovery.Resource, resource string) discovery.Resource {
	for _, r := range all {
		if r.Resource == resource {
			return r
		}
	}
	panic(fmt.Sprintf("apiserver: %q is not in discovery.Resources", resource))
}
