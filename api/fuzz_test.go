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
				t.Fatalf("decoded %T", o)
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
