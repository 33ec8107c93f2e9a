// Package protobody lets the API read request bodies in Kubernetes'
// protobuf encoding. client-go's typed clients (kubectl create namespace,
// kubectl create deployment, kubectl create rolebinding, informer programs
// that write) send
// `application/vnd.kubernetes.protobuf` for built-in kinds; the handlers and
// their strict decoder read JSON, so the body is converted once, before
// them, into the JSON the same client would have sent.
//
// Protobuf has no unknown fields to refuse: a field the sender set that the
// k8s.io/api type lacks cannot be on the wire. Fields gossipod does not
// implement are still refused by the strict decoder, from the JSON.
package protobody

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// ContentType is Kubernetes' protobuf media type.
const ContentType = "application/vnd.kubernetes.protobuf"

// Decoder converts protobuf bodies of the kinds gossipod serves. Its scheme
// is built on first use, so an agent that never sees protobuf (and the pause
// process, which never runs Go at all) pays nothing.
type Decoder struct {
	once  sync.Once
	codec runtime.Decoder
	err   error
}

func (d *Decoder) decoder() (runtime.Decoder, error) {
	d.once.Do(func() {
		scheme := runtime.NewScheme()
		for _, add := range []func(*runtime.Scheme) error{
			corev1.AddToScheme, appsv1.AddToScheme, autoscalingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
			authenticationv1.AddToScheme, // TokenRequest: kubectl create token
		} {
			if err := add(scheme); err != nil {
				d.err = fmt.Errorf("build the protobuf scheme: %w", err)
				return
			}
		}
		metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
		d.codec = protobuf.NewSerializer(scheme, scheme)
	})
	return d.codec, d.err
}

// ToJSON converts one protobuf-encoded object to JSON, with its apiVersion
// and kind.
func (d *Decoder) ToJSON(body []byte) ([]byte, error) {
	codec, err := d.decoder()
	if err != nil {
		return nil, err
	}
	obj, gvk, err := codec.Decode(body, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decode the protobuf body: %w", err)
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return json.Marshal(obj)
}

// Middleware rewrites a request whose body is protobuf into the same
// request with a JSON body, and passes every other request through. A body
// that does not decode is a 400 written by badRequest. Body size limits
// applied before it still hold: it reads what the limited body gives.
func (d *Decoder) Middleware(next http.Handler, badRequest func(http.ResponseWriter, string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != ContentType || r.Body == nil || r.Method == http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			badRequest(w, fmt.Sprintf("read the request body: %v", err))
			return
		}
		converted, err := d.ToJSON(body)
		if err != nil {
			badRequest(w, err.Error())
			return
		}
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(converted))
		r2.ContentLength = int64(len(converted))
		r2.Header.Set("Content-Type", "application/json")
		next.ServeHTTP(w, r2)
	})
}
