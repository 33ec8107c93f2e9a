package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/protobody"
)

// bodyContentTypes are the Content-Types a create or update body arrives
// in: JSON (kubectl), YAML (curl users), protobuf (client-go's typed
// clients).
var bodyContentTypes = []string{"application/json", "application/yaml", protobody.ContentType}

// FuzzRequestBody sends arbitrary bodies, in each Content-Type, through
// the path a POST or PUT body takes in an agent: the protobuf middleware,
// then readObject. A body that is refused must be refused with a 400 (413
// past the bound), in a Status; one that is read must be one object of a
// kind the API serves, whose JSON reads back the same, and which the
// handler of its own kind takes in the URL's namespace. A protobuf body
// must read exactly as the JSON it converts to would.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: other}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n",
		"{apiVersion: v1, kind: Pod}\n---\n{apiVersion: v1, kind: Pod}\n",
		"k8s\x00\n\x02v1\x12\tNamespace\x12\x08\n\x06\n\x04shop",
	} {
		for i := range bodyContentTypes {
			f.Add(byte(i), []byte(s))
		}
	}
	var d protobody.Decoder
	type result struct {
		obj api.Object
		err error
	}
	read := func(ctype string, body []byte) result {
		var got result
		h := d.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.obj, got.err = readObject(r)
		}), func(w http.ResponseWriter, msg string) { got.err = api.NewBadRequest(msg) })
		req := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/pods", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		h.ServeHTTP(httptest.NewRecorder(), req)
		return got
	}
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		ctype := bodyContentTypes[int(typ)%len(bodyContentTypes)]
		got := read(ctype, body)
		if got.err != nil {
			var st *api.Status
			if !errors.As(got.err, &st) || (st.Code != http.StatusBadRequest && st.Code != http.StatusRequestEntityTooLarge) {
				t.Fatalf("%s body refused with %v, want a 400 Status", ctype, got.err)
			}
			if got.obj != nil {
				t.Fatal("object returned with an error")
			}
		} else {
			first, err := json.Marshal(got.obj)
			if err != nil {
				t.Fatalf("marshal %T: %v", got.obj, err)
			}
			again, err := decodeObject(first)
			if err != nil {
				t.Fatalf("the JSON of a body read does not read: %v\n%s", err, first)
			}
			if second, _ := json.Marshal(again); !bytes.Equal(first, second) {
				t.Fatalf("%T changed through JSON:\n%s\n%s", got.obj, first, second)
			}
			ns := got.obj.GetNamespace()
			if _, err := asKind[api.Object](got.obj, true, "default", "an object"); err != nil && (ns == "" || ns == "default") {
				t.Fatalf("a %T in namespace %q refused in namespace default: %v", got.obj, ns, err)
			}
		}
		if ctype != protobody.ContentType {
			return
		}
		converted, err := d.ToJSON(body)
		if err != nil {
			return
		}
		viaJSON := read("application/json", converted)
		if (viaJSON.err == nil) != (got.err == nil) {
			t.Fatalf("protobuf body: %v; as the JSON it converts to: %v\n%s", got.err, viaJSON.err, converted)
		}
		if got.err == nil {
			a, _ := json.Marshal(got.obj)
			b, _ := json.Marshal(viaJSON.obj)
			if !bytes.Equal(a, b) {
				t.Fatalf("protobuf body read as\n%s\nits JSON as\n%s", a, b)
			}
		}
	})
}

// FuzzListSelector parses arbitrary ?labelSelector and ?fieldSelector
// values as a list, watch or deletecollection does. A selector that is
// refused is a 400 Status; one that parses must print (String, what a
// watch's bookmark and logs show) to a selector that parses to the same,
// select the same objects as it, and name only the fields the kind serves.
func FuzzListSelector(f *testing.F) {
	for _, s := range [][2]string{
		{"app=web,tier!=db", "spec.nodeName=n1"},
		{"env in (prod, qa),!canary,version", "metadata.name!=x,status.phase=Running"},
		{"a notin (b),c>1,d<3", "metadata.namespace==default"},
		{"x==y,  z", "spec.nodeName="},
		{"example.com/app=", "status.phase!=Failed,metadata.name=a\\,b"},
		{"(", "=="},
	} {
		f.Add(s[0], s[1], "web", "n1")
	}
	supported := []string{"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}
	f.Fuzz(func(t *testing.T, labelSel, fieldSel, labelValue, fieldValue string) {
		q := url.Values{}
		q.Set("labelSelector", labelSel)
		q.Set("fieldSelector", fieldSel)
		req := httptest.NewRequest(http.MethodGet, "/api/v1/pods?"+q.Encode(), nil)
		sel, err := parseListSelector(req, supported...)
		if err != nil {
			var st *api.Status
			if !errors.As(err, &st) || st.Code != http.StatusBadRequest {
				t.Fatalf("selectors %q, %q refused with %v, want a 400 Status", labelSel, fieldSel, err)
			}
			return
		}
		for _, r := range sel.fields.Requirements() {
			found := false
			for _, s := range supported {
				found = found || r.Field == s
			}
			if !found {
				t.Fatalf("field selector %q accepted on unsupported field %q", fieldSel, r.Field)
			}
		}
		ls, err := labels.Parse(sel.labels.String())
		if err != nil {
			t.Fatalf("label selector %q prints as %q, which does not parse: %v", labelSel, sel.labels.String(), err)
		}
		if ls.String() != sel.labels.String() {
			t.Fatalf("label selector %q: %q, then %q", labelSel, sel.labels.String(), ls.String())
		}
		fs, err := fields.ParseSelector(sel.fields.String())
		if err != nil {
			t.Fatalf("field selector %q prints as %q, which does not parse: %v", fieldSel, sel.fields.String(), err)
		}
		if fs.String() != sel.fields.String() {
			t.Fatalf("field selector %q: %q, then %q", fieldSel, sel.fields.String(), fs.String())
		}
		// The same objects: labels and fields made from the values the
		// selectors name, and from the fuzzer's.
		reqs, _ := sel.labels.Requirements()
		named, fuzzed := labels.Set{}, labels.Set{}
		for _, r := range reqs {
			fuzzed[r.Key()] = labelValue
			if vs := r.Values().List(); len(vs) > 0 {
				named[r.Key()] = vs[0]
			} else {
				named[r.Key()] = ""
			}
		}
		for _, set := range []labels.Set{named, fuzzed, {}} {
			if sel.labels.Matches(set) != ls.Matches(set) {
				t.Fatalf("label selector %q and its print %q disagree on %v", labelSel, ls.String(), set)
			}
		}
		objFields := fields.Set{}
		for _, r := range sel.fields.Requirements() {
			objFields[r.Field] = r.Value
		}
		for _, set := range []fields.Set{objFields, {"spec.nodeName": fieldValue, "metadata.name": fieldValue}} {
			if sel.fields.Matches(set) != fs.Matches(set) {
				t.Fatalf("field selector %q and its print %q disagree on %v", fieldSel, fs.String(), set)
			}
			if sel.matches(fuzzed, set) != (sel.labels.Matches(fuzzed) && sel.fields.Matches(set)) {
				t.Fatal("matches is not both selectors' match")
			}
		}
	})
}
