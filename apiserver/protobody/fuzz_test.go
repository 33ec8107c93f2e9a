package protobody

import (
	"bytes"
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/gossipod/gossipod/api"
)

// FuzzToJSON feeds arbitrary bytes to the protobuf body decoder, as a
// client could send them with Content-Type application/vnd.kubernetes.protobuf.
// Whatever it accepts must come out as one JSON object that names its kind,
// that the API's strict decoder reads without panicking (to an object or a
// *DecodeError, the 400 it answers), and that is what the object's own
// protobuf encoding converts to: encoding the converted object again and
// converting that gives the same JSON.
func FuzzToJSON(f *testing.F) {
	enc := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	encode := func(obj runtime.Object) []byte {
		var buf bytes.Buffer
		if err := enc.Encode(obj, &buf); err != nil {
			f.Fatal(err)
		}
		return buf.Bytes()
	}
	replicas := int32(3)
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
	}
	for _, obj := range []runtime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: template.Spec},
		&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: template}},
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "c"}, Data: map[string]string{"k": "v"}},
		&corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: metav1.ObjectMeta{Name: "s"}, Data: map[string][]byte{"k": {0, 1}}},
		&corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: metav1.ObjectMeta{Name: "svc"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}},
		&rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"}, ObjectMeta: metav1.ObjectMeta{Name: "ci"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{{Kind: "User", Name: "u"}}},
	} {
		f.Add(encode(obj))
	}
	f.Add([]byte("k8s\x00"))
	f.Add([]byte("not protobuf"))

	var d Decoder
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := d.ToJSON(body)
		if err != nil {
			if out != nil {
				t.Fatalf("JSON returned with error %v", err)
			}
			return
		}
		var head struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
		}
		if err := json.Unmarshal(out, &head); err != nil {
			t.Fatalf("converted body is not a JSON object: %v\n%s", err, out)
		}
		if head.Kind == "" || head.APIVersion == "" {
			t.Fatalf("converted body names no kind: %s", out)
		}
		// The handlers' decoder: an object or an error, never a panic.
		if _, err := api.DecodeManifests(out); err != nil && err.Error() == "" {
			t.Fatal("empty decode error")
		}
		obj, _, err := d.codec.Decode(body, nil, nil)
		if err != nil {
			t.Fatalf("ToJSON accepted what the codec refuses: %v", err)
		}
		var buf bytes.Buffer
		if err := enc.Encode(obj, &buf); err != nil {
			return // a value protobuf cannot carry (an invalid quantity), JSON can
		}
		again, err := d.ToJSON(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded %s does not convert: %v", out, err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("protobuf round trip changed the object:\n%s\n%s", out, again)
		}
	})
}
