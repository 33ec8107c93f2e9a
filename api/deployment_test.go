package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// deploymentYAML is a small valid Deployment manifest named name.
func deploymentYAML(name string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
spec:
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
      - name: app
        image: busybox:1.36
`
}

// indent makes a manifest a list item of a List's items.
func indent(manifest string) string {
	return "- " + strings.ReplaceAll(strings.TrimSpace(manifest), "\n", "\n  ") + "\n"
}

// kindsAndNames renders decoded objects as "Kind/name" for comparison.
func kindsAndNames(t *testing.T, objs []Object) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		apiVersion, kind := o.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
		switch o.(type) {
		case *Pod:
			if kind != "Pod" || apiVersion != "v1" {
				t.Errorf("*Pod with apiVersion %q, kind %q", apiVersion, kind)
			}
		case *Deployment:
			if kind != "Deployment" || apiVersion != "apps/v1" {
				t.Errorf("*Deployment with apiVersion %q, kind %q", apiVersion, kind)
			}
		default:
			t.Errorf("decoded %T", o)
		}
		out = append(out, kind+"/"+o.GetName())
	}
	return out
}

func TestDecodeDeployments(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"single YAML document", deploymentYAML("web"), []string{"Deployment/web"}},
		{"Pod and Deployment in YAML documents", podYAML("a") + "---\n" + deploymentYAML("web") + "---\n" + podYAML("b"),
			[]string{"Pod/a", "Deployment/web", "Pod/b"}},
		{"JSON stream of a Deployment and a Pod",
			`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}` +
				"\n" + `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}`,
			[]string{"Deployment/web", "Pod/a"}},
		{"v1 List mixing both kinds", "apiVersion: v1\nkind: List\nitems:\n" + indent(podYAML("a")) + indent(deploymentYAML("web")),
			[]string{"Pod/a", "Deployment/web"}},
		{"DeploymentList", "apiVersion: apps/v1\nkind: DeploymentList\nmetadata: {resourceVersion: \"9\"}\nitems:\n" +
			indent(deploymentYAML("a")) + indent(deploymentYAML("b")),
			[]string{"Deployment/a", "Deployment/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := DecodeManifests([]byte(tt.input))
			if err != nil {
				t.Fatalf("DecodeManifests: %v", err)
			}
			if got := kindsAndNames(t, objs); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("objects = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDecodeDeploymentFields checks that values land in the right fields,
// both forms of IntOrString included.
func TestDecodeDeploymentFields(t *testing.T) {
	objs, err := DecodeManifests([]byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 0
  paused: true
  minReadySeconds: 5
  revisionHistoryLimit: 3
  progressDeadlineSeconds: 60
  selector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: In, values: [front, edge]}
    - {key: canary, operator: DoesNotExist}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: "50%"}
  template:
    metadata:
      labels: {app: web, tier: front}
      annotations: {note: x}
    spec:
      restartPolicy: Always
      containers:
      - name: httpd
        image: busybox:1.36
        resources: {requests: {cpu: 100m}}
status:
  observedGeneration: 2
  replicas: 4
  updatedReplicas: 3
  readyReplicas: 2
  availableReplicas: 1
  unavailableReplicas: 3
  conditions:
  - type: Progressing
    status: "True"
    reason: NewReplicaSetAvailable
    lastUpdateTime: "2024-01-02T03:04:05Z"
`))
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0].(*Deployment)
	s := &d.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"namespace", d.Namespace, "prod"},
		{"replicas", *s.Replicas, int32(0)},
		{"paused", s.Paused, true},
		{"minReadySeconds", s.MinReadySeconds, int32(5)},
		{"revisionHistoryLimit", *s.RevisionHistoryLimit, int32(3)},
		{"progressDeadlineSeconds", *s.ProgressDeadlineSeconds, int32(60)},
		{"matchLabels", s.Selector.MatchLabels["app"], "web"},
		{"expression 0", strings.Join(s.Selector.MatchExpressions[0].Values, ","), "front,edge"},
		{"expression 1", s.Selector.MatchExpressions[1].Operator, LabelSelectorOpDoesNotExist},
		{"strategy", s.Strategy.Type, RollingUpdateDeploymentStrategyType},
		{"maxSurge", *s.Strategy.RollingUpdate.MaxSurge, intstr.FromInt32(1)},
		{"maxUnavailable", *s.Strategy.RollingUpdate.MaxUnavailable, intstr.FromString("50%")},
		{"template label", s.Template.Labels["tier"], "front"},
		{"template annotation", s.Template.Annotations["note"], "x"},
		{"container", s.Template.Spec.Containers[0].Name, "httpd"},
		{"cpu request", ResourcesOf(s.Template.Spec.Containers[0].Resources.Requests).MilliCPU, int64(100)},
		{"observedGeneration", d.Status.ObservedGeneration, int64(2)},
		{"status counts", [5]int32{d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas,
			d.Status.AvailableReplicas, d.Status.UnavailableReplicas}, [5]int32{4, 3, 2, 1, 3}},
		{"condition", GetDeploymentCondition(d, DeploymentProgressing).Reason, "NewReplicaSetAvailable"},
		{"condition time", d.Status.Conditions[0].LastUpdateTime.UTC().Hour(), 3},
		{"no Available condition", GetDeploymentCondition(d, DeploymentAvailable) == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	// The JSON form is Kubernetes': IntOrString as a number or a string.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"rollingUpdate":{"maxUnavailable":"50%","maxSurge":1}`, `"replicas":0,`, `"apiVersion":"apps/v1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

func TestDecodeDeploymentErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{
			name:  "unsupported field inside the template",
			input: deploymentYAML("web") + "        lifecycle: {preStop: {tcpSocket: {port: 80}}}\n",
			want:  []string{`document 1 (Deployment "web"): spec.template.spec.containers[0].lifecycle.preStop.tcpSocket: unsupported field`},
		},
		{
			name: "unknown and unsupported fields at every level",
			input: deploymentYAML("web") + "      subdomain: db\n" +
				"  rollbackTo: {revision: 1}\n  strategy: {type: Recreate, blueGreen: {}}\n" +
				"status:\n  collisionCount: 1\n",
			want: []string{`document 1 (Deployment "web"): [spec.rollbackTo: unknown field, ` +
				`spec.strategy.blueGreen: unknown field, spec.template.spec.subdomain: unsupported field, ` +
				`status.collisionCount: unsupported field]`},
		},
		{
			name: "template metadata and selector fields",
			input: strings.Replace(strings.Replace(deploymentYAML("web"), "    metadata:\n", "    metadata:\n      generateName: x\n", 1),
				"    matchLabels: {app: web}\n", "    matchLabels: {app: 1}\n    matchFields: []\n", 1),
			want: []string{`document 1 (Deployment "web"): [spec.selector.matchFields: unknown field, ` +
				`spec.selector.matchLabels.app: expected a string, got a number 1 (quote it in YAML), ` +
				`spec.template.metadata.generateName: unsupported field]`},
		},
		{
			name: "wrong types, IntOrString included",
			input: strings.Replace(deploymentYAML("web"), "spec:\n  selector:", "spec:\n  replicas: \"3\"\n  paused: 1\n"+
				"  strategy: {rollingUpdate: {maxSurge: 1.5, maxUnavailable: [1]}}\n  selector:", 1),
			want: []string{`document 1 (Deployment "web"): [spec.paused: expected a boolean (true or false), got a number 1, ` +
				`spec.replicas: expected an integer, got a string "3", ` +
				`spec.strategy.rollingUpdate.maxSurge: Invalid value: "1.5": json: cannot unmarshal number 1.5 into Go value of type int32, ` +
				`spec.strategy.rollingUpdate.maxUnavailable: expected a string, got a list]`},
		},
		{
			name:  "DeploymentList's own fields",
			input: "apiVersion: apps/v1\nkind: DeploymentList\nmetadata: {continue: x}\nitems: []\n",
			want:  []string{`document 1 (DeploymentList): metadata.continue: unsupported field`},
		},
		{
			name: "DeploymentList items are reported by position",
			input: "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n" + indent(deploymentYAML("a")) +
				indent(deploymentYAML("b")+"  minReadySeconds: 1.5\n"),
			want: []string{`document 1, item 2 (Deployment "b"): spec.minReadySeconds: Invalid value: 1.5: must be an integer`},
		},
		{
			name:  "a bad Deployment among good documents",
			input: podYAML("a") + "---\n" + deploymentYAML("web") + "  replicas: many\n",
			want:  []string{`document 2 (Deployment "web"): spec.replicas: expected an integer, got a string "many"`},
		},
		{
			name:  "a List may not hold a DeploymentList",
			input: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps/v1, kind: DeploymentList, items: []}\n",
			want:  []string{`document 1, item 1 (DeploymentList): kind: a List may not contain a List`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := DecodeManifests([]byte(tt.input))
			if err == nil {
				t.Fatalf("no error; decoded %v", kindsAndNames(t, objs))
			}
			if objs != nil {
				t.Errorf("objects returned with an error: %v", objs)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func TestSetDeploymentDefaults(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(i int32) *intstr.IntOrString { v := intstr.FromInt32(i); return &v }
	defaultedTemplate := func() PodTemplateSpec {
		return PodTemplateSpec{Spec: PodSpec{
			Containers:                    []Container{{Name: "app", Image: "busybox", ImagePullPolicy: PullAlways}},
			RestartPolicy:                 RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr(int64(30)),
		}}
	}
	tests := []struct {
		name string
		in   Deployment
		want Deployment
	}{
		{
			name: "empty fields are filled",
			in:   Deployment{Spec: DeploymentSpec{Template: PodTemplateSpec{Spec: PodSpec{Containers: []Container{{Name: "app", Image: "busybox"}}}}}},
			want: Deployment{ObjectMeta: ObjectMeta{Namespace: "default"}, Spec: DeploymentSpec{
				Replicas: ptr(int32(1)),
				Strategy: DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType,
					RollingUpdate: &RollingUpdateDeployment{MaxUnavailable: pct("25%"), MaxSurge: pct("25%")}},
				RevisionHistoryLimit:    ptr(int32(10)),
				ProgressDeadlineSeconds: ptr(int32(600)),
				Template:                defaultedTemplate(),
			}},
		},
		{
			name: "set fields are kept, zeros included; Recreate gets no rollingUpdate",
			in: Deployment{ObjectMeta: ObjectMeta{Namespace: "prod"}, Spec: DeploymentSpec{
				Replicas:                ptr(int32(0)),
				Strategy:                DeploymentStrategy{Type: RecreateDeploymentStrategyType},
				RevisionHistoryLimit:    ptr(int32(0)),
				ProgressDeadlineSeconds: ptr(int32(30)),
				Template:                defaultedTemplate(),
			}},
			want: Deployment{ObjectMeta: ObjectMeta{Namespace: "prod"}, Spec: DeploymentSpec{
				Replicas:                ptr(int32(0)),
				Strategy:                DeploymentStrategy{Type: RecreateDeploymentStrategyType},
				RevisionHistoryLimit:    ptr(int32(0)),
				ProgressDeadlineSeconds: ptr(int32(30)),
				Template:                defaultedTemplate(),
			}},
		},
		{
			name: "a partial rollingUpdate is completed",
			in: Deployment{Spec: DeploymentSpec{
				Strategy: DeploymentStrategy{RollingUpdate: &RollingUpdateDeployment{MaxSurge: num(0)}},
				Template: defaultedTemplate(),
			}},
			want: Deployment{ObjectMeta: ObjectMeta{Namespace: "default"}, Spec: DeploymentSpec{
				Replicas: ptr(int32(1)),
				Strategy: DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType,
					RollingUpdate: &RollingUpdateDeployment{MaxUnavailable: pct("25%"), MaxSurge: num(0)}},
				RevisionHistoryLimit:    ptr(int32(10)),
				ProgressDeadlineSeconds: ptr(int32(600)),
				Template:                defaultedTemplate(),
			}},
		},
		{
			name: "the template's pod spec is defaulted as a pod's, its metadata is not",
			in: Deployment{Spec: DeploymentSpec{Template: PodTemplateSpec{
				ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: PodSpec{
					InitContainers: []Container{{Name: "init", Image: "busybox:1.36"}},
					Containers: []Container{{Name: "app", Image: "busybox:1.36",
						Ports:     []ContainerPort{{ContainerPort: 80}},
						Resources: ResourceRequirements{Limits: ResourceList{ResourceMemory: resource.MustParse("1Gi")}},
					}},
					RestartPolicy: RestartPolicyOnFailure,
				},
			}}},
			want: Deployment{ObjectMeta: ObjectMeta{Namespace: "default"}, Spec: DeploymentSpec{
				Replicas: ptr(int32(1)),
				Strategy: DeploymentStrategy{Type: RollingUpdateDeploymentStrategyType,
					RollingUpdate: &RollingUpdateDeployment{MaxUnavailable: pct("25%"), MaxSurge: pct("25%")}},
				RevisionHistoryLimit:    ptr(int32(10)),
				ProgressDeadlineSeconds: ptr(int32(600)),
				Template: PodTemplateSpec{
					ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: PodSpec{
						InitContainers: []Container{{Name: "init", Image: "busybox:1.36", ImagePullPolicy: PullIfNotPresent}},
						Containers: []Container{{Name: "app", Image: "busybox:1.36", ImagePullPolicy: PullIfNotPresent,
							Ports: []ContainerPort{{ContainerPort: 80, Protocol: ProtocolTCP}},
							Resources: ResourceRequirements{
								Requests: ResourceList{ResourceMemory: resource.MustParse("1Gi")},
								Limits:   ResourceList{ResourceMemory: resource.MustParse("1Gi")},
							},
						}},
						RestartPolicy:                 RestartPolicyOnFailure,
						TerminationGracePeriodSeconds: ptr(int64(30)),
					},
				},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			SetDeploymentDefaults(&got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SetDeploymentDefaults:\n got: %s\nwant: %s", mustJSON(t, got), mustJSON(t, tt.want))
			}
			again := got
			SetDeploymentDefaults(&again)
			if !reflect.DeepEqual(again, tt.want) {
				t.Errorf("SetDeploymentDefaults is not idempotent: %s", mustJSON(t, again))
			}
		})
	}
}

// TestSetDeploymentDefaultsMatchesPods checks that a template is defaulted
// exactly as a pod with the same spec: the controller's pods must not
// differ from the template they were made from.
func TestSetDeploymentDefaultsMatchesPods(t *testing.T) {
	p := validPod()
	p.Spec = PodSpec{Containers: []Container{{Name: "a", Image: "x", Ports: []ContainerPort{{ContainerPort: 1}}}},
		InitContainers: []Container{{Name: "i", Image: "y:1"}}}
	d := Deployment{Spec: DeploymentSpec{Template: PodTemplateSpec{Spec: p.Spec}}}
	d.Spec.Template.Spec.Containers = append([]Container(nil), p.Spec.Containers...)
	d.Spec.Template.Spec.Containers[0].Ports = append([]ContainerPort(nil), p.Spec.Containers[0].Ports...)
	SetPodDefaults(p)
	SetDeploymentDefaults(&d)
	// The service account is set on pods only, as Kubernetes' admission
	// does; the controller sets it on the pods it makes.
	SetPodServiceAccount(&d.Spec.Template.Spec)
	if !reflect.DeepEqual(p.Spec, d.Spec.Template.Spec) {
		t.Errorf("template spec %s, pod spec %s", mustJSON(t, d.Spec.Template.Spec), mustJSON(t, p.Spec))
	}
	if d.Spec.Template.Namespace != "" {
		t.Errorf("template namespace = %q, want none", d.Spec.Template.Namespace)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hashTemplate is a defaulted template with two containers, a resource
// list and labels: enough fields for a hash to notice a change.
func hashTemplate() *PodTemplateSpec {
	d := &Deployment{Spec: DeploymentSpec{Template: PodTemplateSpec{
		ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
		Spec: PodSpec{Containers: []Container{
			{Name: "httpd", Image: "localhost/busybox:latest", Command: []string{"httpd", "-f", "-p", "8080"},
				Resources: ResourceRequirements{Requests: ResourceList{ResourceMemory: resource.MustParse("1Gi"), ResourceCPU: resource.MustParse("100m")}}},
			{Name: "sidecar", Image: "busybox:1.36"},
		}},
	}}}
	SetDeploymentDefaults(d)
	return &d.Spec.Template
}

func TestTemplateHash(t *testing.T) {
	base := TemplateHash(hashTemplate())

	// The algorithm is part of the stored state: pods are named and
	// labelled with it, and a new value for the same template would make
	// every Deployment roll all its pods after an upgrade.
	const golden = "747ffcb964"
	if base != golden {
		t.Errorf("TemplateHash(hashTemplate()) = %q, was %q: changing it rolls every Deployment", base, golden)
	}
	// A field the old PodSpec shape lacks is hashed too (corev1's shape).
	extra := hashTemplate()
	extra.Spec.Containers[1].TTY = true
	if h := TemplateHash(extra); h == base {
		t.Errorf("a template with tty set hashes as one without: %q", h)
	}
	if len(base) == 0 || len(base) > 10 || strings.Trim(base, "bcdfghjklmnpqrstvwxz2456789") != "" {
		t.Errorf("hash %q: want 1-10 characters of the safe alphabet", base)
	}
	if msgs := content.IsLabelValue(base); len(msgs) > 0 {
		t.Errorf("hash %q is not a label value: %v", base, msgs)
	}
	if msgs := content.IsDNS1123Label("web-" + base + "-abcde"); len(msgs) > 0 {
		t.Errorf("pod name with hash %q is not a DNS label: %v", base, msgs)
	}

	same := []struct {
		name   string
		mutate func(d *Deployment)
	}{
		{"equal template", func(d *Deployment) {}},
		{"replicas", func(d *Deployment) { d.Spec.Replicas = ptr(int32(7)) }},
		{"strategy, paused, deployment labels and status", func(d *Deployment) {
			d.Spec.Strategy = DeploymentStrategy{Type: RecreateDeploymentStrategyType}
			d.Spec.Paused = true
			d.Labels = map[string]string{"x": "y"}
			d.Status.Replicas = 3
		}},
		{"labels in another insertion order", func(d *Deployment) {
			d.Spec.Template.Labels = map[string]string{"tier": "front"}
			d.Spec.Template.Labels["app"] = "web"
		}},
		{"same quantity in other units", func(d *Deployment) {
			d.Spec.Template.Spec.Containers[0].Resources.Requests[ResourceMemory] = resource.MustParse("1024Mi")
			d.Spec.Template.Spec.Containers[0].Resources.Requests[ResourceCPU] = resource.MustParse("0.1")
		}},
		{"empty instead of nil lists", func(d *Deployment) { d.Spec.Template.Spec.Volumes = []Volume{} }},
	}
	for _, tt := range same {
		d := &Deployment{Spec: DeploymentSpec{Template: *hashTemplate()}}
		tt.mutate(d)
		if got := TemplateHash(&d.Spec.Template); got != base {
			t.Errorf("%s: hash %q, want %q", tt.name, got, base)
		}
	}

	differ := []struct {
		name   string
		mutate func(tpl *PodTemplateSpec)
	}{
		{"image", func(tpl *PodTemplateSpec) { tpl.Spec.Containers[1].Image = "busybox:1.37" }},
		{"command", func(tpl *PodTemplateSpec) { tpl.Spec.Containers[0].Command = []string{"httpd", "-f"} }},
		{"env", func(tpl *PodTemplateSpec) { tpl.Spec.Containers[0].Env = []EnvVar{{Name: "A", Value: "1"}} }},
		{"request", func(tpl *PodTemplateSpec) {
			tpl.Spec.Containers[0].Resources.Requests[ResourceMemory] = resource.MustParse("2Gi")
		}},
		{"template label", func(tpl *PodTemplateSpec) { tpl.Labels["tier"] = "back" }},
		{"template annotation", func(tpl *PodTemplateSpec) { tpl.Annotations = map[string]string{"rollout": "2"} }},
		{"container order", func(tpl *PodTemplateSpec) {
			c := tpl.Spec.Containers
			c[0], c[1] = c[1], c[0]
		}},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range differ {
		tpl := hashTemplate()
		tt.mutate(tpl)
		got := TemplateHash(tpl)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: hash %q, the same as %s", tt.name, got, prev)
		}
		seen[got] = tt.name
	}
}

// TestTemplateHashSurvivesTheLog checks that a decoded Deployment's
// template hashes the same after the trip through JSON (the Raft log, the
// API) that every stored Deployment takes, so that any leader computes the
// same names.
func TestTemplateHashSurvivesTheLog(t *testing.T) {
	objs, err := DecodeManifests([]byte(deploymentYAML("web") +
		"        resources: {requests: {memory: 1024Mi, cpu: \"0.5\"}, limits: {memory: 2048Mi}}\n" +
		"        env: [{name: B, value: \"2\"}, {name: A}]\n" +
		"        ports: [{containerPort: 8080}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0].(*Deployment)
	SetDeploymentDefaults(d)
	before := TemplateHash(&d.Spec.Template)
	again, err := DecodeManifests([]byte(mustJSON(t, d)))
	if err != nil {
		t.Fatal(err)
	}
	if after := TemplateHash(&again[0].(*Deployment).Spec.Template); after != before {
		t.Errorf("hash %q after a JSON round trip, %q before", after, before)
	}
}

func TestLabelSelectorAsSelector(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "front"}
	tests := []struct {
		name     string
		selector *LabelSelector
		str      string            // the selector's String form
		match    map[string]string // labels it must match
		noMatch  map[string]string // labels it must not match
		err      string
	}{
		{name: "nil selects nothing", selector: nil, str: "", noMatch: web},
		{name: "empty selects everything", selector: &LabelSelector{}, str: "", match: web},
		{name: "matchLabels", selector: &LabelSelector{MatchLabels: map[string]string{"tier": "front", "app": "web"}},
			str: "app=web,tier=front", match: web, noMatch: map[string]string{"app": "web"}},
		{name: "every operator", selector: &LabelSelector{
			MatchLabels: map[string]string{"app": "web"},
			MatchExpressions: []LabelSelectorRequirement{
				{Key: "tier", Operator: LabelSelectorOpIn, Values: []string{"front", "edge"}},
				{Key: "env", Operator: LabelSelectorOpNotIn, Values: []string{"prod"}},
				{Key: "tier", Operator: LabelSelectorOpExists},
				{Key: "canary", Operator: LabelSelectorOpDoesNotExist},
			}},
			str:     "app=web,!canary,env notin (prod),tier in (edge,front),tier",
			match:   web,
			noMatch: map[string]string{"app": "web", "tier": "front", "canary": "1"}},
		{name: "NotIn matches a missing key", selector: &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "env", Operator: LabelSelectorOpNotIn, Values: []string{"prod"}}}},
			str: "env notin (prod)", match: web, noMatch: map[string]string{"env": "prod"}},
		{name: "unknown operator", selector: &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "a", Operator: "Gt", Values: []string{"1"}}}}, err: `"Gt" is not a valid label selector operator`},
		{name: "In without values", selector: &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
			{Key: "a", Operator: LabelSelectorOpIn}}}, err: "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"},
		{name: "invalid key", selector: &LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}, err: "key: Invalid value: \"bad key\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := LabelSelectorAsSelector(tt.selector)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if tt.match != nil && !sel.Matches(labels.Set(tt.match)) {
				t.Errorf("does not match %v", tt.match)
			}
			if tt.noMatch != nil && sel.Matches(labels.Set(tt.noMatch)) {
				t.Errorf("matches %v", tt.noMatch)
			}
			// The String form parses back to an equal selector, so it
			// can be handed to `get pods -l`.
			if tt.selector != nil {
				parsed, err := labels.Parse(sel.String())
				if err != nil || parsed.String() != sel.String() {
					t.Errorf("labels.Parse(%q) = %v, %v", sel.String(), parsed, err)
				}
			}
		})
	}
}
