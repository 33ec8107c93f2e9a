package api

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validDeployment is a defaulted Deployment that passes validation; each
// case breaks it.
func validDeployment() *Deployment {
	d := &Deployment{
		ObjectMeta: ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: DeploymentSpec{
			Replicas: ptr(int32(4)),
			Selector: &LabelSelector{
				MatchLabels:      map[string]string{"app": "web"},
				MatchExpressions: []LabelSelectorRequirement{{Key: "tier", Operator: LabelSelectorOpIn, Values: []string{"front"}}},
			},
			Template: PodTemplateSpec{
				ObjectMeta: ObjectMeta{
					Labels:      map[string]string{"app": "web", "tier": "front"},
					Annotations: map[string]string{"example.com/note": "x"},
				},
				Spec: PodSpec{Containers: []Container{{
					Name: "httpd", Image: "busybox:1.36", Command: []string{"httpd", "-f", "-p", "8080"},
					Ports:     []ContainerPort{{ContainerPort: 8080}},
					Resources: ResourceRequirements{Requests: ResourceList{ResourceCPU: resource.MustParse("50m")}},
				}}},
			},
			MinReadySeconds: 5,
		},
	}
	SetDeploymentDefaults(d)
	return d
}

// deploymentCauses renders the causes of a ValidateDeployment error as
// "field: body", after checking it is a 422 about a Deployment.
func deploymentCauses(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var st *Status
	if !errors.As(err, &st) {
		t.Fatalf("error %v is %T, not *Status", err, err)
	}
	if st.Code != http.StatusUnprocessableEntity || st.Reason != StatusReasonInvalid || st.Status != "Failure" ||
		st.Details == nil || st.Details.Kind != "Deployment" {
		t.Errorf("Status = %+v", st)
	}
	var out []string
	for _, c := range st.Details.Causes {
		if c.Type == "" || c.Field == "" {
			t.Errorf("cause without type or field: %+v", c)
		}
		out = append(out, c.Field+": "+c.Message)
	}
	return out
}

func TestValidateDeployment(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(i int32) *intstr.IntOrString { v := intstr.FromInt32(i); return &v }
	rolling := func(d *Deployment, surge, unavailable *intstr.IntOrString) {
		d.Spec.Strategy.RollingUpdate = &RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}
	}
	const subdomainMsg = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`
	const percentMsg = `a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`
	tests := []struct {
		name   string
		mutate func(d *Deployment)
		want   []string
	}{
		{"valid", func(d *Deployment) {}, nil},
		{"valid: the smallest manifest, defaulted", func(d *Deployment) {
			*d = Deployment{ObjectMeta: ObjectMeta{Name: "a"}, Spec: DeploymentSpec{
				Selector: &LabelSelector{MatchLabels: map[string]string{"app": "a"}},
				Template: PodTemplateSpec{
					ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "a"}},
					Spec:       PodSpec{Containers: []Container{{Name: "c", Image: "i"}}},
				},
			}}
			SetDeploymentDefaults(d)
		}, nil},
		{"valid: 0 replicas, Recreate, no progress deadline, nodeName in the template", func(d *Deployment) {
			d.Spec.Replicas = ptr(int32(0))
			d.Spec.Strategy = DeploymentStrategy{Type: RecreateDeploymentStrategyType}
			d.Spec.ProgressDeadlineSeconds = nil
			d.Spec.RevisionHistoryLimit = ptr(int32(0))
			d.Spec.Template.Spec.NodeName = "node-1"
		}, nil},
		{"valid: extra template labels, every selector operator", func(d *Deployment) {
			d.Spec.Template.Labels["extra"] = "x"
			d.Spec.Selector.MatchExpressions = append(d.Spec.Selector.MatchExpressions,
				LabelSelectorRequirement{Key: "env", Operator: LabelSelectorOpNotIn, Values: []string{"prod"}},
				LabelSelectorRequirement{Key: "extra", Operator: LabelSelectorOpExists},
				LabelSelectorRequirement{Key: "example.com/canary", Operator: LabelSelectorOpDoesNotExist})
		}, nil},
		{"valid: bounds as numbers, 0 either way, maxSurge above 100%", func(d *Deployment) { rolling(d, pct("200%"), num(0)) }, nil},
		{"valid: maxUnavailable 100%, maxSurge 0%", func(d *Deployment) { rolling(d, pct("0%"), pct("100%")) }, nil},

		// metadata
		{"name missing", func(d *Deployment) { d.Name = "" }, []string{`metadata.name: Required value: name or generateName is required`}},
		{"name not a subdomain", func(d *Deployment) { d.Name = "Web_1" }, []string{`metadata.name: Invalid value: "Web_1": ` + subdomainMsg}},
		{"name too long for its pods' names", func(d *Deployment) { d.Name = strings.Repeat("a", 237) }, []string{
			`metadata.name: Invalid value: "` + strings.Repeat("a", 237) + `": must be no more than 236 bytes, so that the names of its pods (<name>-<pod-template-hash>-<suffix>) are valid`}},
		{"longest name", func(d *Deployment) { d.Name = strings.Repeat("a", 236) }, nil},
		{"namespace missing", func(d *Deployment) { d.Namespace = "" }, []string{`metadata.namespace: Required value`}},

		// replicas and the other numbers
		{"replicas negative", func(d *Deployment) { d.Spec.Replicas = ptr(int32(-1)) }, []string{
			`spec.replicas: Invalid value: -1: must be greater than or equal to 0`}},
		{"replicas not defaulted", func(d *Deployment) { d.Spec.Replicas = nil }, []string{`spec.replicas: Required value`}},
		{"minReadySeconds, revisionHistoryLimit negative", func(d *Deployment) {
			d.Spec.MinReadySeconds = -1
			d.Spec.RevisionHistoryLimit = ptr(int32(-2))
		}, []string{
			`spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0`,
			`spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0`}},
		{"progressDeadlineSeconds not above minReadySeconds", func(d *Deployment) { d.Spec.ProgressDeadlineSeconds = ptr(int32(5)) }, []string{
			`spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds`}},
		{"progressDeadlineSeconds negative", func(d *Deployment) { d.Spec.ProgressDeadlineSeconds = ptr(int32(-1)) }, []string{
			`spec.progressDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0`,
			`spec.progressDeadlineSeconds: Invalid value: -1: must be greater than minReadySeconds`}},

		// selector
		{"selector missing", func(d *Deployment) { d.Spec.Selector = nil }, []string{`spec.selector: Required value`}},
		{"selector empty", func(d *Deployment) { d.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{}} }, []string{
			`spec.selector: Invalid value: {}: empty selector is invalid for deployment`}},
		{"selector does not match the template", func(d *Deployment) { d.Spec.Template.Labels = map[string]string{"app": "db", "tier": "front"} }, []string{
			"spec.template.metadata.labels: Invalid value: {\"app\":\"db\",\"tier\":\"front\"}: `selector` does not match template `labels`"}},
		{"template without labels", func(d *Deployment) { d.Spec.Template.Labels = nil }, []string{
			"spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`"}},
		{"selector expression excludes the template", func(d *Deployment) {
			d.Spec.Selector.MatchExpressions[0] = LabelSelectorRequirement{Key: "tier", Operator: LabelSelectorOpDoesNotExist}
		}, []string{
			"spec.template.metadata.labels: Invalid value: {\"app\":\"web\",\"tier\":\"front\"}: `selector` does not match template `labels`"}},
		{"selector labels invalid", func(d *Deployment) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "bad value"}
			d.Spec.Template.Labels["app"] = "bad value"
		}, []string{
			`spec.selector.matchLabels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			`spec.template.metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"selector expressions invalid", func(d *Deployment) {
			d.Spec.Selector.MatchExpressions = []LabelSelectorRequirement{
				{Key: "a", Operator: LabelSelectorOpIn},
				{Key: "b", Operator: LabelSelectorOpExists, Values: []string{"x"}},
				{Key: "c", Operator: "Gt", Values: []string{"1"}},
				{Key: "bad key", Operator: LabelSelectorOpNotIn, Values: []string{"ok", "not ok"}},
			}
		}, []string{
			"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
			"spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
			`spec.selector.matchExpressions[2].operator: Invalid value: "Gt": not a valid selector operator`,
			`spec.selector.matchExpressions[3].key: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`spec.selector.matchExpressions[3].values[1]: Invalid value: "not ok": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},

		// template
		{"template annotation key", func(d *Deployment) { d.Spec.Template.Annotations = map[string]string{"/x": ""} }, []string{
			`spec.template.metadata.annotations: Invalid value: "/x": prefix part must be non-empty`}},
		{"template pod spec errors carry the template's path", func(d *Deployment) {
			c := &d.Spec.Template.Spec.Containers[0]
			c.Image = ""
			c.Ports[0].ContainerPort = 70000
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, Container{Name: "httpd", Image: "x", ImagePullPolicy: PullAlways})
		}, []string{
			`spec.template.spec.containers[0].image: Required value`,
			`spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			`spec.template.spec.containers[1].name: Duplicate value: "httpd"`}},
		{"template without containers", func(d *Deployment) { d.Spec.Template.Spec.Containers = nil }, []string{
			`spec.template.spec.containers: Required value`}},
		{"template restartPolicy Never", func(d *Deployment) { d.Spec.Template.Spec.RestartPolicy = RestartPolicyNever }, []string{
			`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`}},
		{"template restartPolicy OnFailure", func(d *Deployment) { d.Spec.Template.Spec.RestartPolicy = RestartPolicyOnFailure }, []string{
			`spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`}},
		{"template restartPolicy unknown: reported once", func(d *Deployment) { d.Spec.Template.Spec.RestartPolicy = "Sometimes" }, []string{
			`spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"`}},
		{"template not defaulted", func(d *Deployment) {
			d.Spec.Template.Spec.RestartPolicy = ""
			d.Spec.Template.Spec.Containers[0].ImagePullPolicy = ""
		}, []string{
			`spec.template.spec.containers[0].imagePullPolicy: Required value`,
			`spec.template.spec.restartPolicy: Required value`}},

		// strategy
		{"strategy type unknown", func(d *Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, []string{
			`spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"`}},
		{"strategy type not defaulted", func(d *Deployment) { d.Spec.Strategy.Type = "" }, []string{`spec.strategy.type: Required value`}},
		{"Recreate with rollingUpdate", func(d *Deployment) { d.Spec.Strategy.Type = RecreateDeploymentStrategyType }, []string{
			"spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"}},
		{"RollingUpdate without rollingUpdate", func(d *Deployment) { d.Spec.Strategy.RollingUpdate = nil }, []string{
			`spec.strategy.rollingUpdate: Required value: this should be defaulted and never be nil`}},
		{"bounds not defaulted", func(d *Deployment) { rolling(d, nil, nil) }, []string{
			`spec.strategy.rollingUpdate.maxUnavailable: Required value`,
			`spec.strategy.rollingUpdate.maxSurge: Required value`}},
		{"both bounds 0", func(d *Deployment) { rolling(d, num(0), num(0)) }, []string{
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"}},
		{"both bounds 0%", func(d *Deployment) { rolling(d, pct("0%"), pct("0%")) }, []string{
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0"}},
		{"0 and 0%", func(d *Deployment) { rolling(d, pct("0%"), num(0)) }, []string{
			"spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"}},
		{"negative bounds", func(d *Deployment) { rolling(d, num(-1), num(-2)) }, []string{
			`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: -2: must be greater than or equal to 0`,
			`spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0`}},
		{"bounds that are not percentages", func(d *Deployment) { rolling(d, pct("25"), pct("-5%")) }, []string{
			`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "-5%": ` + percentMsg,
			`spec.strategy.rollingUpdate.maxSurge: Invalid value: "25": ` + percentMsg}},
		{"maxUnavailable above 100%", func(d *Deployment) { rolling(d, pct("25%"), pct("101%")) }, []string{
			`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "101%": must not be greater than 100%`}},
		{"percentages beyond int32", func(d *Deployment) { rolling(d, pct("2147483648%"), pct("99999999999999999999%")) }, []string{
			`spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "99999999999999999999%": must not be greater than 2147483647%`,
			`spec.strategy.rollingUpdate.maxSurge: Invalid value: "2147483648%": must not be greater than 2147483647%`}},
		{"largest percentage", func(d *Deployment) { rolling(d, pct("2147483647%"), pct("100%")) }, nil},
		{"an IntOrString of no type", func(d *Deployment) {
			rolling(d, &intstr.IntOrString{Type: 7, StrVal: "x"}, pct("25%"))
		}, []string{`spec.strategy.rollingUpdate.maxSurge: Invalid value: must be an integer or percentage (e.g '5%')`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeployment()
			tt.mutate(d)
			got := deploymentCauses(t, ValidateDeployment(d))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("causes:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

// TestValidateDeploymentMessage checks the whole message, in Kubernetes'
// words, and that a valid Deployment gives a nil error interface.
func TestValidateDeploymentMessage(t *testing.T) {
	if err := ValidateDeployment(validDeployment()); err != nil {
		t.Fatalf("ValidateDeployment(valid) = %v", err)
	}
	if err := ValidateDeploymentUpdate(validDeployment(), validDeployment()); err != nil {
		t.Fatalf("ValidateDeploymentUpdate(same) = %v", err)
	}
	d := validDeployment()
	d.Spec.Template.Labels = map[string]string{"app": "db"}
	want := "Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`"
	if err := ValidateDeployment(d); err == nil || err.Error() != want {
		t.Errorf("ValidateDeployment:\n got: %v\nwant: %s", err, want)
	}
	d.Spec.Replicas = ptr(int32(-1))
	d.Spec.Template.Spec.RestartPolicy = RestartPolicyNever
	want = "Deployment \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, " +
		"spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`, " +
		"spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"]"
	err := ValidateDeployment(d)
	if err == nil || err.Error() != want {
		t.Errorf("ValidateDeployment:\n got: %v\nwant: %s", err, want)
	}
	var st *Status
	if errors.As(err, &st) && (st.Details.Name != "web" || len(st.Details.Causes) != 3 ||
		st.Details.Causes[2].Type != "FieldValueNotSupported") {
		t.Errorf("details = %+v", st.Details)
	}
}

func TestValidateDeploymentUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(d *Deployment)
		want   []string
	}{
		{"scale", func(d *Deployment) { d.Spec.Replicas = ptr(int32(10)) }, nil},
		{"new template: a rollout", func(d *Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
			d.Spec.Template.Labels["version"] = "2"
		}, nil},
		{"strategy, pause, labels, status", func(d *Deployment) {
			d.Spec.Strategy = DeploymentStrategy{Type: RecreateDeploymentStrategyType}
			d.Spec.Paused = true
			d.Labels = map[string]string{"app": "web", "team": "a"}
			d.Status.Replicas = 3
			d.ResourceVersion = "42"
		}, nil},
		{"selector written differently but the same", func(d *Deployment) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "web"}
			d.Spec.Selector.MatchExpressions[0].Values = []string{"front"}
		}, nil},
		{"selector changed", func(d *Deployment) {
			d.Spec.Selector.MatchLabels["version"] = "2"
			d.Spec.Template.Labels["version"] = "2"
		}, []string{
			`spec.selector: Invalid value: {"matchLabels":{"app":"web","version":"2"},"matchExpressions":[{"key":"tier","operator":"In","values":["front"]}]}: field is immutable`}},
		{"selector expression removed", func(d *Deployment) { d.Spec.Selector.MatchExpressions = nil }, []string{
			`spec.selector: Invalid value: {"matchLabels":{"app":"web"}}: field is immutable`}},
		{"name", func(d *Deployment) { d.Name = "other" }, []string{`metadata.name: Invalid value: "other": field is immutable`}},
		{"namespace", func(d *Deployment) { d.Namespace = "prod" }, []string{`metadata.namespace: Invalid value: "prod": field is immutable`}},
		{"uid", func(d *Deployment) { d.UID = "other" }, []string{`metadata.uid: Invalid value: "other": field is immutable`}},
		{"the new Deployment is validated too", func(d *Deployment) { d.Spec.Replicas = ptr(int32(-3)) }, []string{
			`spec.replicas: Invalid value: -3: must be greater than or equal to 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldD, newD := validDeployment(), validDeployment()
			oldD.UID, newD.UID = "uid-1", "uid-1"
			tt.mutate(newD)
			got := deploymentCauses(t, ValidateDeploymentUpdate(oldD, newD))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("causes:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

// TestValidDeploymentsTemplateIsAValidPod checks what the controller relies
// on: a pod made from a valid Deployment's template, named and labelled
// as the controller does, is a valid pod its selector selects.
func TestValidDeploymentsTemplateIsAValidPod(t *testing.T) {
	d := validDeployment()
	d.Name = strings.Repeat("d", maxDeploymentNameLength)
	if err := ValidateDeployment(d); err != nil {
		t.Fatal(err)
	}
	p := podFromTemplate(d)
	if err := ValidatePod(p); err != nil {
		t.Fatalf("pod from a valid Deployment: %v", err)
	}
	sel, err := LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set(p.Labels)) {
		t.Errorf("selector %s does not select the pod's labels %v", sel, p.Labels)
	}
}

// TestExampleDeployment decodes, defaults and validates
// examples/deployment.yaml, the Deployment the e2e tests and the docs use.
func TestExampleDeployment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeManifests(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects, want 1", len(objs))
	}
	d, ok := objs[0].(*Deployment)
	if !ok {
		t.Fatalf("%T, want *Deployment", objs[0])
	}
	SetDeploymentDefaults(d)
	if err := ValidateDeployment(d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 4 {
		t.Errorf("replicas = %d, want 4", *d.Spec.Replicas)
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("containers = %+v", cs)
	}
	c := cs[0]
	if c.Image != "localhost/busybox:latest" || c.ImagePullPolicy != PullIfNotPresent {
		t.Errorf("image %q, pull policy %s; want localhost/busybox:latest, IfNotPresent", c.Image, c.ImagePullPolicy)
	}
	if strings.Join(c.Command, " ") != "httpd -f -p 8080" {
		t.Errorf("command = %q", c.Command)
	}
	if r := ResourcesOf(c.Resources.Requests); r.MilliCPU == 0 || r.Memory == 0 {
		t.Errorf("requests = %+v, want cpu and memory", r)
	}
}

// podFromTemplate makes the pod the controller would make from d, with the
// longest hash and a 5-character suffix.
func podFromTemplate(d *Deployment) *Pod {
	lbls := map[string]string{LabelPodTemplateHash: TemplateHash(&d.Spec.Template)}
	for k, v := range d.Spec.Template.Labels {
		lbls[k] = v
	}
	return &Pod{
		ObjectMeta: ObjectMeta{
			Name:        d.Name + "-" + strings.Repeat("b", 10) + "-bcdfg",
			Namespace:   d.Namespace,
			Labels:      lbls,
			Annotations: d.Spec.Template.Annotations,
		},
		Spec: d.Spec.Template.Spec,
	}
}

// TestValidateDeploymentReplicaBound: spec.replicas is bounded by the
// default, by the bound an agent is configured with, and (for a scale or
// the FSM) on its own, in Kubernetes' words.
func TestValidateDeploymentReplicaBound(t *testing.T) {
	tests := []struct {
		name     string
		replicas int32
		max      int32 // 0: ValidateDeployment's default
		want     string
	}{
		{"default bound, at it", 10000, 0, ""},
		{"default bound, 2,000,000", 2000000, 0, `Deployment "web" is invalid: spec.replicas: Invalid value: 2000000: must be less than or equal to 10000`},
		{"configured bound, under it", 50, 100, ""},
		{"configured bound, over it", 101, 100, `Deployment "web" is invalid: spec.replicas: Invalid value: 101: must be less than or equal to 100`},
		{"configured above the default", 20000, 50000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDeployment()
			d.Spec.Replicas = ptr(tt.replicas)
			var err error
			if tt.max == 0 {
				err = ValidateDeployment(d)
			} else {
				err = ValidateDeploymentWithin(d, tt.max)
				if uerr := ValidateDeploymentUpdateWithin(validDeployment(), d, tt.max); (uerr == nil) != (err == nil) {
					t.Errorf("update: %v, create: %v", uerr, err)
				}
			}
			checkStatusMessage(t, err, tt.want)
			max := tt.max
			if max == 0 {
				max = DefaultMaxDeploymentReplicas
			}
			checkStatusMessage(t, ValidateReplicas("Deployment", "web", tt.replicas, max), tt.want)
		})
	}
}

func checkStatusMessage(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("got %v, want no error", err)
		}
		return
	}
	var st *Status
	if !errors.As(err, &st) || st.Code != http.StatusUnprocessableEntity || st.Message != want {
		t.Errorf("got %v, want a 422 %q", err, want)
	}
}
