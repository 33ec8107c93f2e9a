package protobody

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestMiddlewareConvertsClientGoBodies: what client-go's typed clients send
// for kubectl create namespace / deployment reaches the handler as the JSON
// kubectl would send; JSON bodies and PATCHes pass untouched; garbage is a
// 400.
func TestMiddlewareConvertsClientGoBodies(t *testing.T) {
	encoder := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	encode := func(obj runtime.Object) []byte {
		var buf bytes.Buffer
		if err := encoder.Encode(obj, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	replicas := int32(2)
	tokenLife := int64(900)
	tests := []struct {
		name, method, contentType string
		body                      []byte
		wantCode                  int
		wantBody                  string
	}{
		{"namespace", http.MethodPost, ContentType,
			encode(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "shop"}}),
			http.StatusOK, `{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"shop"},"spec":{},"status":{}}`},
		{"deployment", http.MethodPost, ContentType + "; charset=binary",
			encode(&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: appsv1.DeploymentSpec{Replicas: &replicas}}),
			http.StatusOK, `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web"},"spec":{"replicas":2,"selector":null,"template":{"metadata":{},"spec":{"containers":null}},"strategy":{}},"status":{}}`},
		{"rolebinding", http.MethodPost, ContentType,
			encode(&rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: "ci"}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ci", Namespace: "default"}}}),
			http.StatusOK, `{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"ci"},"subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"default"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}`},
		{"token request", http.MethodPost, ContentType,
			encode(&authenticationv1.TokenRequest{TypeMeta: metav1.TypeMeta{APIVersion: "authentication.k8s.io/v1", Kind: "TokenRequest"},
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &tokenLife}}),
			http.StatusOK, `{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{},"spec":{"audiences":null,"expirationSeconds":900,"boundObjectRef":null},"status":{"token":"","expirationTimestamp":null}}`},
		{"json passes", http.MethodPost, "application/json", []byte(`{"a":1}`), http.StatusOK, `{"a":1}`},
		{"patch passes", http.MethodPatch, ContentType, []byte("raw"), http.StatusOK, "raw"},
		{"garbage", http.MethodPost, ContentType, []byte("not protobuf"), http.StatusBadRequest, ""},
	}
	var d Decoder
	h := d.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}), func(w http.ResponseWriter, msg string) { http.Error(w, msg, http.StatusBadRequest) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/api/v1/namespaces", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantBody != "" && rec.Body.String() != tc.wantBody {
				t.Fatalf("handler read\n%s\nwant\n%s", rec.Body, tc.wantBody)
			}
		})
	}
}
