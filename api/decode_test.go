package api

import (
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// podYAML is a small valid pod manifest named name.
func podYAML(name string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  containers:
  - name: app
    image: busybox:1.36
`
}

func TestDecodeManifestsValid(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // pod names, in order
	}{
		{"single YAML document", podYAML("a"), []string{"a"}},
		{"multi-document YAML", podYAML("a") + "---\n" + podYAML("b") + "--- # third\n" + podYAML("c"), []string{"a", "b", "c"}},
		{"leading separator, empty and comment-only documents", "---\n" + podYAML("a") + "---\n---\n# nothing\n---\n" + podYAML("b") + "---\n", []string{"a", "b"}},
		{"CRLF line ends", strings.ReplaceAll(podYAML("a")+"---\n"+podYAML("b"), "\n", "\r\n"), []string{"a", "b"}},
		{"byte order mark", "\xef\xbb\xbf" + podYAML("a"), []string{"a"}},
		{"JSON object", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"app","image":"x"}]}}`, []string{"a"}},
		{"JSON stream with tabs", "{\n\t\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"a\"}\n}\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"}}", []string{"a", "b"}},
		{"YAML flow mapping", `{apiVersion: v1, kind: Pod, metadata: {name: a}}`, []string{"a"}},
		{"v1 List", "apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: \"7\"\nitems:\n- " +
			strings.ReplaceAll(strings.TrimSpace(podYAML("a")), "\n", "\n  ") + "\n- " +
			strings.ReplaceAll(strings.TrimSpace(podYAML("b")), "\n", "\n  ") + "\n", []string{"a", "b"}},
		{"PodList in JSON", `{"apiVersion":"v1","kind":"PodList","metadata":{},"items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}]}`, []string{"a"}},
		{"List among documents", podYAML("a") + "---\napiVersion: v1\nkind: List\nitems: []\n---\n" + podYAML("b"), []string{"a", "b"}},
		{"empty input", "", nil},
		{"comments only", "# nothing here\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := DecodeManifests([]byte(tt.input))
			if err != nil {
				t.Fatalf("DecodeManifests: %v", err)
			}
			var got []string
			for _, o := range objs {
				p, ok := o.(*Pod)
				if !ok {
					t.Fatalf("got %T, want *Pod", o)
				}
				if apiVersion, kind := o.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind(); kind != "Pod" || apiVersion != "v1" {
					t.Errorf("apiVersion, kind = %q, %q, want v1, Pod", apiVersion, kind)
				}
				got = append(got, p.Name)
				if o.GetName() != p.Name {
					t.Errorf("GetName() = %q, want %q", o.GetName(), p.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("names = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestDecodeManifestsFields checks that values land in the right fields,
// quantities included.
func TestDecodeManifestsFields(t *testing.T) {
	objs, err := DecodeManifests([]byte(`apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: prod
  labels: {app: web}
  annotations: {example.com/owner: me}
spec:
  restartPolicy: OnFailure
  shareProcessNamespace: true
  hostname: h
  nodeSelector: {disk: ssd}
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: init
    image: busybox
    command: [sh, -c, "true"]
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolicy: Never
    args: [a, b]
    workingDir: /srv
    env: [{name: A, value: "1"}]
    ports: [{name: http, containerPort: 8080, hostPort: 80, protocol: UDP}]
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: 1, memory: 1.5Gi}
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
  volumes:
  - name: data
    hostPath: {path: /srv/data, type: Directory}
  - name: scratch
    emptyDir: {medium: Memory, sizeLimit: 1Gi}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := objs[0].(*Pod)
	c := p.Spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"namespace", p.Namespace, "prod"},
		{"label", p.Labels["app"], "web"},
		{"annotation", p.Annotations["example.com/owner"], "me"},
		{"restartPolicy", p.Spec.RestartPolicy, RestartPolicyOnFailure},
		{"shareProcessNamespace", *p.Spec.ShareProcessNamespace, true},
		{"grace", *p.Spec.TerminationGracePeriodSeconds, int64(5)},
		{"init command", strings.Join(p.Spec.InitContainers[0].Command, " "), "sh -c true"},
		{"pull policy", c.ImagePullPolicy, PullNever},
		{"env", c.Env[0], EnvVar{Name: "A", Value: "1"}},
		{"port", c.Ports[0], ContainerPort{Name: "http", ContainerPort: 8080, HostPort: 80, Protocol: ProtocolUDP}},
		{"cpu request", ResourcesOf(c.Resources.Requests).MilliCPU, int64(250)},
		{"memory limit", ResourcesOf(c.Resources.Limits).Memory, int64(1536 << 20)},
		{"mount", c.VolumeMounts[0], VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true}},
		{"hostPath", p.Spec.Volumes[0].HostPath.Path + " " + HostPathTypeOf(p.Spec.Volumes[0].HostPath), "/srv/data Directory"},
		{"emptyDir medium", string(p.Spec.Volumes[1].EmptyDir.Medium), "Memory"},
		{"emptyDir size", p.Spec.Volumes[1].EmptyDir.SizeLimit.Value(), int64(1 << 30)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// decodeErrors returns the *DecodeErrors of a DecodeManifests error.
func decodeErrors(t *testing.T, err error) []*DecodeError {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []*DecodeError
	for _, e := range errs {
		var de *DecodeError
		if !errors.As(e, &de) {
			t.Fatalf("error %v (%T) is not a *DecodeError", e, e)
		}
		out = append(out, de)
	}
	return out
}

func TestDecodeManifestsErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		// want are the errors, one line per *DecodeError, exactly. Problems
		// come in the order of the keys: as written for JSON, sorted for
		// YAML (its conversion to JSON sorts them).
		want []string
	}{
		{
			name:  "unsupported field in a list element",
			input: podYAML("web") + "    lifecycle:\n      preStop: {tcpSocket: {port: 80}}\n      stopSignal: SIGUSR1\n",
			want:  []string{`document 1 (Pod "web"): [spec.containers[0].lifecycle.preStop.tcpSocket: unsupported field, spec.containers[0].lifecycle.stopSignal: unsupported field]`},
		},
		{
			name:  "unsupported field under a handler inline in the probe",
			input: podYAML("web") + "    livenessProbe:\n      grpc: {port: 9000, mode: TLS}\n",
			want:  []string{`document 1 (Pod "web"): spec.containers[0].livenessProbe.grpc.mode: unsupported field`},
		},
		{
			name:  "unknown field in a probe",
			input: podYAML("web") + "    readinessProbe:\n      httpGet: {port: 80, paht: /}\n",
			want:  []string{`document 1 (Pod "web"): spec.containers[0].readinessProbe.httpGet.paht: unknown field`},
		},
		{
			name:  "unknown field at the top, beside inline TypeMeta",
			input: podYAML("web") + "foo: bar\n",
			want:  []string{`document 1 (Pod "web"): foo: unknown field`},
		},
		{
			name:  "inline VolumeSource: unsupported source and unknown nested field",
			input: podYAML("web") + "  volumes:\n  - name: v\n    nfs: {server: s, path: /x}\n  - name: w\n    emptyDir: {medium: Memory, size: 1Gi}\n",
			want:  []string{`document 1 (Pod "web"): [spec.volumes[0].nfs: unsupported field, spec.volumes[1].emptyDir.size: unknown field]`},
		},
		{
			name:  "projected clusterTrustBundle is not implemented; configMap, secret and serviceAccountToken sources are",
			input: podYAML("web") + "  volumes:\n  - name: v\n    projected:\n      sources:\n      - configMap: {name: c}\n      - secret: {name: s}\n      - serviceAccountToken: {path: token}\n      - clusterTrustBundle: {name: b, path: b}\n",
			want:  []string{`document 1 (Pod "web"): spec.volumes[0].projected.sources[3].clusterTrustBundle: unsupported field`},
		},
		{
			name:  "metadata fields",
			input: strings.Replace(podYAML("web"), "metadata:\n", "metadata:\n  generateName: x\n  Labels: {}\n", 1),
			want:  []string{`document 1 (Pod "web"): [metadata.Labels: unknown field (did you mean "labels"?), metadata.generateName: unsupported field]`},
		},
		{
			name:  "map keys that are not identifiers get brackets",
			input: strings.Replace(podYAML("web"), "metadata:\n", "metadata:\n  labels: {app.kubernetes.io/name: 3}\n", 1),
			want:  []string{`document 1 (Pod "web"): metadata.labels[app.kubernetes.io/name]: expected a string, got a number 3 (quote it in YAML)`},
		},
		{
			name: "type errors name their paths",
			input: podYAML("web") + `    ports: [{containerPort: "8080"}, {containerPort: 70000, hostPort: 9999999999}]
    env: [{name: A, value: 1}, {name: B, value: true}]
    command: sh -c true
  restartPolicy: [Always]
  shareProcessNamespace: "yes"
  terminationGracePeriodSeconds: 1.5
`,
			want: []string{`document 1 (Pod "web"): [` +
				`spec.containers[0].command: expected a list, got a string "sh -c true", ` +
				`spec.containers[0].env[0].value: expected a string, got a number 1 (quote it in YAML), ` +
				`spec.containers[0].env[1].value: expected a string, got a boolean true (quote it in YAML), ` +
				`spec.containers[0].ports[0].containerPort: expected an integer, got a string "8080", ` +
				`spec.containers[0].ports[1].hostPort: Invalid value: 9999999999: out of range for int32, ` +
				`spec.restartPolicy: expected a string, got a list, ` +
				`spec.shareProcessNamespace: expected a boolean (true or false), got a string "yes", ` +
				`spec.terminationGracePeriodSeconds: Invalid value: 1.5: must be an integer]`},
		},
		{
			name:  "bad quantity",
			input: podYAML("web") + "    resources: {limits: {memory: 1Gx, cpu: [1]}}\n",
			want: []string{`document 1 (Pod "web"): [spec.containers[0].resources.limits.cpu: expected a string, got a list, ` +
				`spec.containers[0].resources.limits.memory: Invalid value: "1Gx": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$']`},
		},
		{
			name:  "bad time",
			input: strings.Replace(podYAML("web"), "metadata:\n", "metadata:\n  creationTimestamp: yesterday\n", 1),
			want:  []string{`document 1 (Pod "web"): metadata.creationTimestamp: Invalid value: "yesterday": parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		},
		{
			name:  "time that cannot be stored",
			input: strings.Replace(podYAML("web"), "metadata:\n", "metadata:\n  creationTimestamp: \"0000-01-01T00:00:00+01:00\"\n", 1),
			want:  []string{`document 1 (Pod "web"): metadata.creationTimestamp: Invalid value: "0000-01-01T00:00:00+01:00": cannot be stored: parsing time "-0001-12-31T23:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse "-0001-12-31T23:00:00Z" as "2006"`},
		},
		{
			// hostNetwork: false is what Kubernetes' own Go types write
			// back for "not set" (bool, not *bool), so it is accepted;
			// setHostnameAsFQDN: false (*bool) is a choice gossipod cannot
			// honour.
			name:  "zero unsupported value field passes, zero pointer field does not",
			input: podYAML("web") + "  hostNetwork: false\n  hostPID: false\n  setHostnameAsFQDN: false\n",
			want:  []string{`document 1 (Pod "web"): spec.setHostnameAsFQDN: unsupported field`},
		},
		{
			name:  "non-zero unsupported value field is refused",
			input: podYAML("web") + "  subdomain: db\n",
			want:  []string{`document 1 (Pod "web"): spec.subdomain: unsupported field`},
		},
		{
			name:  "status fields are checked too",
			input: podYAML("web") + "status:\n  phase: Running\n  qosClass: BestEffort\n",
			want:  []string{`document 1 (Pod "web"): status.qosClass: unsupported field`},
		},
		{
			name:  "duplicate key in YAML",
			input: podYAML("web") + "    image: other\n",
			want:  []string{`document 1: invalid YAML: yaml: unmarshal errors:` + "\n" + `  line 9: key "image" already set in map`},
		},
		{
			name:  "duplicate key in JSON",
			input: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b"}}`,
			want:  []string{`document 1: metadata.name: duplicate field`},
		},
		{
			name:  "missing apiVersion and kind",
			input: "metadata: {name: web}\n",
			want:  []string{`document 1: [apiVersion not set, kind not set]`},
		},
		{
			name:  "unregistered kind",
			input: "apiVersion: v1\nkind: Foo\nmetadata: {name: x}\n",
			want:  []string{`document 1 (Foo "x"): no matches for kind "Foo" in version "v1" (gossipod serves apps/v1 Deployment, apps/v1 ReplicaSet, rbac.authorization.k8s.io/v1 ClusterRoleBinding, rbac.authorization.k8s.io/v1 RoleBinding, v1 ConfigMap, v1 Namespace, v1 Pod, v1 Secret, v1 Service, v1 ServiceAccount)`},
		},
		{
			name:  "Deployment in a version gossipod does not serve",
			input: "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: x}\n",
			want:  []string{`document 1 (Deployment "x"): no matches for kind "Deployment" in version "extensions/v1beta1" (gossipod serves apps/v1 Deployment, apps/v1 ReplicaSet, rbac.authorization.k8s.io/v1 ClusterRoleBinding, rbac.authorization.k8s.io/v1 RoleBinding, v1 ConfigMap, v1 Namespace, v1 Pod, v1 Secret, v1 Service, v1 ServiceAccount)`},
		},
		{
			name:  "Pod in the wrong version",
			input: strings.Replace(podYAML("web"), "apiVersion: v1", "apiVersion: v2", 1),
			want:  []string{`document 1 (Pod "web"): no matches for kind "Pod" in version "v2" (gossipod serves apps/v1 Deployment, apps/v1 ReplicaSet, rbac.authorization.k8s.io/v1 ClusterRoleBinding, rbac.authorization.k8s.io/v1 RoleBinding, v1 ConfigMap, v1 Namespace, v1 Pod, v1 Secret, v1 Service, v1 ServiceAccount)`},
		},
		{
			name:  "kind of the wrong type",
			input: "apiVersion: v1\nkind: 5\n",
			want:  []string{`document 1: kind: expected a string, got a number 5 (quote it in YAML)`},
		},
		{
			name:  "not an object",
			input: "- a\n- b\n",
			want:  []string{`document 1: expected an object, got a list`},
		},
		{
			name: "every bad document is reported, numbered among non-empty ones",
			input: "# header\n---\n" + podYAML("a") + "    tty: true\n---\n---\n" + podYAML("b") + "---\n" +
				podYAML("c") + "  overhead: {cpu: 1}\n",
			want: []string{
				`document 1 (Pod "a"): spec.containers[0].tty: unsupported field`,
				`document 3 (Pod "c"): spec.overhead: unsupported field`,
			},
		},
		{
			name: "List items are reported by position",
			input: `{"apiVersion":"v1","kind":"List","items":[
				{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}},
				{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b"},"spec":{"subdomain":"db"}},
				"x",
				{"apiVersion":"v1","kind":"List","items":[]}]}`,
			want: []string{
				`document 1, item 2 (Pod "b"): spec.subdomain: unsupported field`,
				`document 1, item 3: expected an object, got a string "x"`,
				`document 1, item 4 (List): kind: a List may not contain a List`,
			},
		},
		{
			name:  "List's own fields",
			input: "apiVersion: v1\nkind: List\nmetadata: {continue: x, foo: 1}\nitems: {}\nextra: 1\n",
			want:  []string{`document 1 (List): [extra: unknown field, items: expected a list, got an object, metadata.continue: unsupported field, metadata.foo: unknown field]`},
		},
		{
			name:  "YAML syntax error names the line in the whole input",
			input: podYAML("a") + "---\n" + "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [b\n",
			want:  []string{`document 2: invalid YAML: yaml: line 13: did not find expected ',' or ']'`},
		},
		{
			name:  "JSON syntax error names the line",
			input: "{\"apiVersion\": \"v1\",\n\"kind\": \"Pod\",\n\"metadata\": {\"name\" \"a\"}}",
			want:  []string{`document 1: invalid JSON at line 3: invalid character '"' after object key`},
		},
		{
			name:  "JSON stream: the bad object is numbered after the good ones",
			input: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}} {"apiVersion":"v1","kind":"Pod","spec":{"nodeName":"n","nodeName":"m"}}`,
			want:  []string{`document 2: spec.nodeName: duplicate field`},
		},
		{
			name:  "YAML content after a flow mapping is not dropped",
			input: "{apiVersion: v1, kind: Pod, metadata: {name: a}}\nspec: {nodeName: x}\n",
			want:  []string{`document 1: invalid YAML: content after the end of the value: yaml: line 1: did not find expected <document start>`},
		},
		{
			name:  "YAML: a second flow mapping on the same line",
			input: podYAML("a") + "---\n{apiVersion: v1} {kind: Pod}\n",
			want:  []string{`document 2: invalid YAML: content after the end of the value: yaml: did not find expected <document start>`},
		},
		{
			name:  "YAML: an unterminated second flow mapping",
			input: "{apiVersion: v1, kind: Pod} {kind:\n",
			want:  []string{`document 1: invalid YAML: content after the end of the value: yaml: did not find expected <document start>`},
		},
		{
			name:  "JSON stream: unexpected end",
			input: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}} {"apiVersion":`,
			want:  []string{`document 2: invalid JSON: unexpected end of input`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := DecodeManifests([]byte(tt.input))
			if err == nil {
				t.Fatalf("no error; decoded %d objects", len(objs))
			}
			if objs != nil {
				t.Errorf("objects returned with an error: %v", objs)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n got: %s\nwant: %s", got, want)
			}
			if des := decodeErrors(t, err); len(des) != len(tt.want) {
				t.Errorf("%d DecodeErrors, want %d", len(des), len(tt.want))
			}
		})
	}
}

// TestDecodeErrorCauses checks the structured form: one cause per problem,
// with its field, and the 400 Status built from it.
func TestDecodeErrorCauses(t *testing.T) {
	_, err := DecodeManifests([]byte(podYAML("web") + "    stdin: true\n    ports: [{containerPort: x}]\n"))
	des := decodeErrors(t, err)
	if len(des) != 1 {
		t.Fatalf("got %d DecodeErrors, want 1", len(des))
	}
	de := des[0]
	if de.Document != 1 || de.Kind != "Pod" || de.Name != "web" || de.Item != 0 {
		t.Errorf("DecodeError = %+v", de)
	}
	want := []StatusCause{
		{Type: "FieldValueTypeInvalid", Field: "spec.containers[0].ports[0].containerPort", Message: `expected an integer, got a string "x"`},
		{Type: "FieldValueNotSupported", Field: "spec.containers[0].stdin", Message: "unsupported field"},
	}
	if len(de.Causes) != len(want) {
		t.Fatalf("causes = %+v", de.Causes)
	}
	for i := range want {
		if de.Causes[i] != want[i] {
			t.Errorf("cause %d = %+v, want %+v", i, de.Causes[i], want[i])
		}
	}
	st := de.Status()
	if st.Code != http.StatusBadRequest || st.Reason != StatusReasonBadRequest || st.Message != de.Error() ||
		st.Details == nil || len(st.Details.Causes) != 2 || st.Details.Name != "web" {
		t.Errorf("Status() = %+v", st)
	}
}

// TestCheckStrictTypes covers Go types our manifests do not use yet
// (Deployments may): text unmarshalers, unsigned and float fields, arrays.
func TestCheckStrictTypes(t *testing.T) {
	type sample struct {
		IP    netip.Addr `json:"ip"`
		Count uint8      `json:"count"`
		Ratio float32    `json:"ratio"`
		Pair  [2]string  `json:"pair"`
		Any   any        `json:"any"`
		Skip  string     `json:"-"`
	}
	tests := []struct {
		input string
		want  []string
	}{
		{`{"ip":"10.0.0.1","count":255,"ratio":0.5,"pair":["a","b"],"any":{"x":[1]}}`, nil},
		{`{"ip":"10.0.0.300","count":256,"ratio":"x","pair":["a","b","c"],"Skip":"y"}`, []string{
			`ip: Invalid value: "10.0.0.300": ParseAddr("10.0.0.300"): IPv4 field has value >255`,
			`count: Invalid value: 256: out of range for uint8`,
			`ratio: expected a number, got a string "x"`,
			`pair: must have at most 2 items`,
			`Skip: unknown field`,
		}},
		{`{"ip":1,"count":-1,"ratio":1e99}`, []string{
			`ip: expected a string, got a number 1 (quote it in YAML)`,
			`count: Invalid value: -1: must be a non-negative integer`,
			`ratio: Invalid value: 1e99: out of range for float32`,
		}},
	}
	for _, tt := range tests {
		roots, err := parseJSONStream([]byte(tt.input))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range checkStrict("", roots[0], reflect.TypeFor[sample](), nil) {
			got = append(got, c.String())
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("checkStrict(%s):\n got: %q\nwant: %q", tt.input, got, tt.want)
		}
	}
}
