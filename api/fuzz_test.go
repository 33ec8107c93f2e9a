package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goyaml "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

// FuzzDecodeManifests feeds arbitrary bytes to the decoder. Whatever it
// accepts must default and validate without panicking (ValidatePod and
// ValidateDeployment return nil or a *Status), and must survive the trip
// every object takes through the cluster: marshalled to JSON (the Raft log,
// the API) and decoded again, it decodes to the same JSON. A Deployment
// that validates must be one the controller can act on: its selector
// converts and selects its template, and the pods made from the template
// are valid.
func FuzzDecodeManifests(f *testing.F) {
	for _, name := range []string{"pod.yaml", "war-pod.yaml", "deployment.yaml"} {
		if b, err := os.ReadFile(filepath.Join("..", "examples", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(podYAML("a") + "---\n" + podYAML("b")))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","creationTimestamp":"2024-01-02T03:04:05Z"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"1.5","memory":"1e3"}}}]}}]}`))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nspec:\n  volumes: [{name: v, emptyDir: {sizeLimit: 1Gi}}]\n  containers: [{name: c, ports: [{containerPort: 1}], env: [{name: A}]}]\n"))
	f.Add([]byte("{kind: Pod, apiVersion: v1, status: {phase: Running, startTime: null}}"))
	// YAMLToJSON would drop the second line; parsesWhole notices.
	f.Add([]byte("{apiVersion: v1, kind: Pod}\nspec: {nodeName: x}\n"))
	// A valid pod whose quantity MilliValue would read as 0: validation must
	// refuse it (checkRequests would fail otherwise).
	f.Add([]byte(podYAML("big") + "    resources: {requests: {cpu: 1e9999, memory: 1e30}}\n"))
	// Deployments: mixed with a pod, in a List, in a DeploymentList, with
	// both forms of IntOrString and set-based selectors.
	f.Add([]byte(podYAML("a") + "---\n" + deploymentYAML("web") + "  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0%}}\n"))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n" + indent(deploymentYAML("a")) + indent(podYAML("b"))))
	f.Add([]byte(`{"apiVersion":"apps/v1","kind":"DeploymentList","items":[{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},` +
		`"spec":{"replicas":3,"selector":{"matchExpressions":[{"key":"app","operator":"In","values":["d"]}]},` +
		`"strategy":{"type":"Recreate"},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}]}`))
	f.Add([]byte("{apiVersion: apps/v1, kind: Deployment, metadata: {name: x}, spec: {selector: {}, paused: true, " +
		"strategy: {rollingUpdate: {maxSurge: \"200%\", maxUnavailable: \"101%\"}}}, status: {replicas: 1, conditions: [{type: Available, status: \"False\"}]}}"))
	// The longest name whose pods' names are valid.
	f.Add([]byte(strings.Replace(deploymentYAML("web"), "name: web", "name: "+strings.Repeat("d", 236), 1)))
	// Every other kind the API accepts in a body, as kubectl sends them.
	for _, m := range otherKindSeeds {
		f.Add([]byte(m))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeManifests(data)
		if err != nil {
			if objs != nil {
				t.Fatalf("objects returned with error %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := parsesWhole(data); err != nil {
			t.Fatalf("decoded %d objects from input that does not parse as a whole: %v", len(objs), err)
		}
		for _, o := range objs {
			first, err := json.Marshal(o)
			if err != nil {
				t.Fatalf("marshal decoded %T: %v", o, err)
			}
			again, err := DecodeManifests(first)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", first, err)
			}
			if len(again) != 1 {
				t.Fatalf("re-decoding %s gave %d objects", first, len(again))
			}
			second, err := json.Marshal(again[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("round trip changed the %T:\n%s\n%s", o, first, second)
			}

			switch o := o.(type) {
			case *Pod:
				checkPod(t, o, again[0].(*Pod))
			case *Deployment:
				checkDeployment(t, o, again[0].(*Deployment))
			default:
				checkOther(t, o, again[0])
			}
		}
	})
}

// checkPod defaults and validates a decoded pod p, which must not panic and
// must give nil or a *Status; again is p as decoded after a round trip.
func checkPod(t *testing.T, p, again *Pod) {
	SetPodDefaults(p)
	if err := ValidatePod(p); err != nil {
		if _, ok := err.(*Status); !ok {
			t.Fatalf("ValidatePod returned %T", err)
		}
	} else {
		checkRequests(t, p)
	}
	if err := ValidatePodUpdate(again, p); err != nil {
		if _, ok := err.(*Status); !ok {
			t.Fatalf("ValidatePodUpdate returned %T", err)
		}
	}
}

// checkDeployment defaults and validates a decoded Deployment d; again is
// d as decoded after a round trip. Defaulting must be idempotent, the
// template's hash must not change through the JSON every stored Deployment
// goes through, and a valid Deployment must be one the controller can use.
func checkDeployment(t *testing.T, d, again *Deployment) {
	SetDeploymentDefaults(d)
	SetDeploymentDefaults(again)
	if h1, h2 := TemplateHash(&d.Spec.Template), TemplateHash(&again.Spec.Template); h1 != h2 {
		t.Fatalf("template hash %s, %s after a round trip", h1, h2)
	}
	first, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("marshal defaulted Deployment: %v", err)
	}
	SetDeploymentDefaults(d)
	if second, _ := json.Marshal(d); !bytes.Equal(first, second) {
		t.Fatalf("defaulting twice changed the Deployment:\n%s\n%s", first, second)
	}
	stored, err := DecodeManifests(first)
	if err != nil {
		t.Fatalf("re-decoding defaulted %s: %v", first, err)
	}
	if h := TemplateHash(&stored[0].(*Deployment).Spec.Template); h != TemplateHash(&d.Spec.Template) {
		t.Fatalf("template hash %s after storing, %s before", h, TemplateHash(&d.Spec.Template))
	}

	err = ValidateDeployment(d)
	if err != nil {
		if _, ok := err.(*Status); !ok {
			t.Fatalf("ValidateDeployment returned %T", err)
		}
	}
	updateErr := ValidateDeploymentUpdate(again, d)
	if updateErr != nil {
		if _, ok := updateErr.(*Status); !ok {
			t.Fatalf("ValidateDeploymentUpdate returned %T", updateErr)
		}
	}
	if err != nil {
		return
	}
	if updateErr != nil {
		t.Fatalf("a valid Deployment is not a valid update of itself: %v", updateErr)
	}
	sel, err := LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatalf("valid Deployment's selector does not convert: %v", err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Fatalf("valid Deployment's selector %q does not select its template's labels %v", sel, d.Spec.Template.Labels)
	}
	p := podFromTemplate(d)
	if err := ValidatePod(p); err != nil {
		t.Fatalf("pod made from a valid Deployment is invalid: %v", err)
	}
	checkRequests(t, p)
}

// otherKindSeeds are one manifest of each kind DecodeManifests accepts
// beyond Pod and Deployment.
var otherKindSeeds = []string{
	"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels: {pod-security.kubernetes.io/enforce: privileged}\n",
	"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: team-a}\nautomountServiceAccountToken: false\n",
	"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]\n",
	`{"apiVersion":"v1","kind":"Service","metadata":{"name":"dns"},"spec":{"type":"ClusterIP","clusterIP":"None","ports":[{"port":53,"protocol":"UDP","targetPort":"dns"}]}}`,
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a.conf: \"x=1\\n\"}\nbinaryData: {b: AAEC}\nimmutable: true\n",
	"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\ndata: {password: cGFzcw==}\nstringData: {user: admin}\n",
	`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"pull"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"eyJhdXRocyI6e319"}}`,
	"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: rs}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: rs}}\n  template:\n    metadata: {labels: {app: rs}}\n    spec: {containers: [{name: c, image: i}]}\n",
	"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: edit, namespace: team-a}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\nsubjects: [{kind: ServiceAccount, name: builder, namespace: team-a}, {kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}]\n",
	"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admins}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, apiGroup: rbac.authorization.k8s.io, name: ops}]\n",
	"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: n}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: n}}\n",
}

// kindRules are one kind's defaults and validation, as the API's strategy
// applies them to a decoded body: validate a created object, and an update
// of old to obj.
type kindRules struct {
	setDefaults    func(Object)
	validate       func(Object) error
	validateUpdate func(old, obj Object) error
}

// rulesOf returns the rules of o's kind.
func rulesOf(t *testing.T, o Object) kindRules {
	const replicas = MaxDeploymentReplicasCeiling
	switch o.(type) {
	case *ReplicaSet:
		return kindRules{
			func(o Object) { SetReplicaSetDefaults(o.(*ReplicaSet)) },
			func(o Object) error { return ValidateReplicaSet(o.(*ReplicaSet), replicas) },
			func(old, o Object) error {
				return ValidateReplicaSetUpdate(old.(*ReplicaSet), o.(*ReplicaSet), replicas)
			},
		}
	case *Namespace:
		return kindRules{
			func(o Object) { SetNamespaceDefaults(o.(*Namespace)) },
			func(o Object) error { return ValidateNamespace(o.(*Namespace)) },
			func(old, o Object) error { return ValidateNamespaceUpdate(old.(*Namespace), o.(*Namespace)) },
		}
	case *ServiceAccount:
		return kindRules{
			func(Object) {},
			func(o Object) error { return ValidateServiceAccount(o.(*ServiceAccount)) },
			func(old, o Object) error {
				return ValidateServiceAccountUpdate(old.(*ServiceAccount), o.(*ServiceAccount))
			},
		}
	case *Service:
		return kindRules{
			func(o Object) { SetServiceDefaults(o.(*Service)) },
			func(o Object) error { return ValidateService(o.(*Service)) },
			func(old, o Object) error { return ValidateServiceUpdate(old.(*Service), o.(*Service)) },
		}
	case *ConfigMap:
		return kindRules{
			func(o Object) { SetConfigMapDefaults(o.(*ConfigMap)) },
			func(o Object) error { return ValidateConfigMap(o.(*ConfigMap)) },
			func(old, o Object) error { return ValidateConfigMapUpdate(old.(*ConfigMap), o.(*ConfigMap)) },
		}
	case *Secret:
		return kindRules{
			func(o Object) { SetSecretDefaults(o.(*Secret)) },
			func(o Object) error { return ValidateSecret(o.(*Secret)) },
			func(old, o Object) error { return ValidateSecretUpdate(old.(*Secret), o.(*Secret)) },
		}
	case *RoleBinding:
		return kindRules{
			func(o Object) { SetRoleBindingDefaults(o.(*RoleBinding)) },
			func(o Object) error { return ValidateRoleBinding(o.(*RoleBinding)) },
			func(old, o Object) error { return ValidateRoleBindingUpdate(old.(*RoleBinding), o.(*RoleBinding)) },
		}
	case *ClusterRoleBinding:
		return kindRules{
			func(o Object) { SetClusterRoleBindingDefaults(o.(*ClusterRoleBinding)) },
			func(o Object) error { return ValidateClusterRoleBinding(o.(*ClusterRoleBinding)) },
			func(old, o Object) error {
				return ValidateClusterRoleBindingUpdate(old.(*ClusterRoleBinding), o.(*ClusterRoleBinding))
			},
		}
	}
	t.Fatalf("DecodeManifests returned a %T, which the fuzz target has no rules for: add them", o)
	return kindRules{}
}

// checkOther defaults and validates a decoded object of a kind other than
// Pod and Deployment; again is o as decoded after a round trip. Validation
// must answer nil or a *Status; defaulting must be idempotent and survive
// the JSON every stored object goes through; and an object that validates
// must be a valid update of itself as stored, or no client could ever
// re-apply the manifest it created it with.
func checkOther(t *testing.T, o, again Object) {
	r := rulesOf(t, o)
	r.setDefaults(o)
	first, err := json.Marshal(o)
	if err != nil {
		t.Fatalf("marshal defaulted %T: %v", o, err)
	}
	r.setDefaults(o)
	if second, _ := json.Marshal(o); !bytes.Equal(first, second) {
		t.Fatalf("defaulting twice changed the %T:\n%s\n%s", o, first, second)
	}
	stored, err := DecodeManifests(first)
	if err != nil {
		t.Fatalf("re-decoding defaulted %s: %v", first, err)
	}
	r.setDefaults(stored[0])
	if b, _ := json.Marshal(stored[0]); !bytes.Equal(first, b) {
		t.Fatalf("defaulted %T changed through JSON:\n%s\n%s", o, first, b)
	}
	validErr := r.validate(o)
	if validErr != nil {
		if _, ok := validErr.(*Status); !ok {
			t.Fatalf("validating a %T returned %T: %v", o, validErr, validErr)
		}
	}
	r.setDefaults(again)
	updateErr := r.validateUpdate(again, o)
	if updateErr != nil {
		if _, ok := updateErr.(*Status); !ok {
			t.Fatalf("validating an update of a %T returned %T: %v", o, updateErr, updateErr)
		}
	}
	if validErr == nil && updateErr != nil {
		t.Fatalf("a valid %T is not a valid update of itself: %v", o, updateErr)
	}
}

// checkRequests asserts that placement's integer view of a valid pod is
// faithful: every container's request is counted, rounded up, never lost to
// an overflow.
func checkRequests(t *testing.T, p *Pod) {
	total := PodRequests(p)
	for _, cs := range [][]Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range cs {
			r := containerRequests(&c)
			if q, ok := c.Resources.Requests[ResourceCPU]; ok && resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI).Cmp(q) < 0 {
				t.Fatalf("container %q: cpu request %s counted as %dm", c.Name, q.String(), r.MilliCPU)
			}
			if q, ok := c.Resources.Requests[ResourceMemory]; ok && resource.NewQuantity(r.Memory, resource.BinarySI).Cmp(q) < 0 {
				t.Fatalf("container %q: memory request %s counted as %d bytes", c.Name, q.String(), r.Memory)
			}
			if r.MilliCPU > total.MilliCPU || r.Memory > total.Memory {
				t.Fatalf("container %q requests %+v, more than its pod's %+v", c.Name, r, total)
			}
		}
	}
}

// parsesWhole reads all of data with a plain JSON or YAML decoder. Input the
// strict decoder accepts must read to the end this way too: if it does not,
// the strict decoder dropped something (what YAMLToJSON does with content
// after a flow mapping).
func parsesWhole(data []byte) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var next func(v any) error
	if isJSONStream(data) {
		next = json.NewDecoder(bytes.NewReader(data)).Decode
	} else {
		// Lines of blanks are empty to the strict decoder; a tab on one
		// is an error to go-yaml. Neither hides content.
		var kept [][]byte
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			if len(bytes.Trim(l, yamlBlanks)) > 0 {
				kept = append(kept, l)
			}
		}
		next = goyaml.NewDecoder(bytes.NewReader(bytes.Join(kept, nil))).Decode
	}
	for {
		var v any
		err := next(&v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
