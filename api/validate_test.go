package api

import (
	"errors"
	corev1 "k8s.io/api/core/v1"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// validPod is a defaulted pod that passes validation; each case breaks it.
func validPod() *Pod {
	p := &Pod{
		ObjectMeta: ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: PodSpec{
			InitContainers: []Container{{Name: "init", Image: "busybox:1.36",
				VolumeMounts: []VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Containers: []Container{
				{
					Name: "app", Image: "busybox:1.36",
					Env:   []EnvVar{{Name: "MY_ENV.name-1", Value: "x"}},
					Ports: []ContainerPort{{Name: "http", ContainerPort: 8080, HostPort: 80}},
					Resources: ResourceRequirements{
						Requests: ResourceList{ResourceMemory: resource.MustParse("512Mi"), ResourceCPU: resource.MustParse("250m")},
						Limits:   ResourceList{ResourceMemory: resource.MustParse("1Gi")},
					},
					VolumeMounts: []VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "host", MountPath: "/host", ReadOnly: true}},
				},
				{Name: "sidecar", Image: "busybox:1.36", Ports: []ContainerPort{{ContainerPort: 8080, HostPort: 80, Protocol: ProtocolUDP}}},
			},
			Volumes: []Volume{
				{Name: "data", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{}}},
				{Name: "host", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/srv", Type: ptr(HostPathType("Directory"))}}},
				{Name: "mem", VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{Medium: "Memory"}}},
			},
			Hostname:     "web-0",
			NodeSelector: map[string]string{"kubernetes.io/hostname": "node-1"},
			NodeName:     "node-1.example",
		},
	}
	SetPodDefaults(p)
	return p
}

// causeStrings renders the causes of a ValidatePod error as "field: body".
func causeStrings(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var st *Status
	if !errors.As(err, &st) {
		t.Fatalf("error %v is %T, not *Status", err, err)
	}
	if st.Code != http.StatusUnprocessableEntity || st.Reason != StatusReasonInvalid || st.Status != "Failure" ||
		st.Details == nil || st.Details.Kind != "Pod" {
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

func TestValidatePod(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		mutate func(p *Pod)
		want   []string
	}{
		{"valid", func(p *Pod) {}, nil},
		{"valid without optional fields", func(p *Pod) {
			*p = Pod{ObjectMeta: ObjectMeta{Name: "a.b-c"}, Spec: PodSpec{Containers: []Container{{Name: "c", Image: "i"}}}}
			SetPodDefaults(p)
		}, nil},

		// metadata
		{"name missing", func(p *Pod) { p.Name = "" }, []string{`metadata.name: Required value: name or generateName is required`}},
		{"name not a subdomain", func(p *Pod) { p.Name = "Web_1" }, []string{
			`metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"namespace missing", func(p *Pod) { p.Namespace = "" }, []string{`metadata.namespace: Required value`}},
		{"namespace not a label", func(p *Pod) { p.Namespace = "a.b" }, []string{`metadata.namespace: Invalid value: "a.b": must not contain dots`}},
		{"label key and value", func(p *Pod) { p.Labels = map[string]string{"bad key": "ok", "ok": "bad value"} }, []string{
			`metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`metadata.labels: Invalid value: "bad value": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"annotation key", func(p *Pod) { p.Annotations = map[string]string{"Example.com/Any-Case": "free text", "/x": ""} }, []string{
			`metadata.annotations: Invalid value: "/x": prefix part must be non-empty`}},
		{"annotations too large", func(p *Pod) { p.Annotations = map[string]string{"a": strings.Repeat("x", 256<<10)} }, []string{
			`metadata.annotations: Too long: may not be more than 262144 bytes`}},

		// DNS
		{"dnsPolicy None with a nameserver", func(p *Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"corp.example."}}
		}, nil},
		{"dnsPolicy None without dnsConfig", func(p *Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, []string{
			"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"}},
		{"dnsPolicy unknown", func(p *Pod) { p.Spec.DNSPolicy = "Cluster" }, []string{
			`spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`}},
		{"dnsConfig nameservers", func(p *Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "dns.example"}}
		}, []string{`spec.dnsConfig.nameservers: Invalid value: ["1.1.1.1","2.2.2.2","3.3.3.3","dns.example"]: must not have more than 3 nameservers`,
			`spec.dnsConfig.nameservers[3]: Invalid value: "dns.example": must be a valid IP address`}},

		// containers
		{"no containers", func(p *Pod) { p.Spec.Containers = nil }, []string{`spec.containers: Required value`}},
		{"container name missing", func(p *Pod) { p.Spec.Containers[1].Name = "" }, []string{`spec.containers[1].name: Required value`}},
		{"container name not a label", func(p *Pod) { p.Spec.Containers[1].Name = long }, []string{
			`spec.containers[1].name: Invalid value: "` + long + `": must be no more than 63 bytes`}},
		{"container names duplicate", func(p *Pod) { p.Spec.Containers[1].Name = "app" }, []string{`spec.containers[1].name: Duplicate value: "app"`}},
		{"init container name duplicates an app container", func(p *Pod) { p.Spec.InitContainers[0].Name = "sidecar" }, []string{
			`spec.initContainers[0].name: Duplicate value: "sidecar"`}},
		{"image missing", func(p *Pod) { p.Spec.InitContainers[0].Image = "" }, []string{`spec.initContainers[0].image: Required value`}},
		{"image with spaces", func(p *Pod) { p.Spec.Containers[0].Image = " busybox" }, []string{
			`spec.containers[0].image: Invalid value: " busybox": must not have leading or trailing whitespace`}},
		{"pull policy", func(p *Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" }, []string{
			`spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"`}},
		{"pull policy not defaulted", func(p *Pod) { p.Spec.Containers[0].ImagePullPolicy = "" }, []string{`spec.containers[0].imagePullPolicy: Required value`}},
		{"env names", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{Name: ""}, {Name: "1A"}, {Name: "A=B"}, {Name: "_ok"}}
		}, []string{
			`spec.containers[0].env[0].name: Required value`,
			`spec.containers[0].env[1].name: Invalid value: "1A": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
			`spec.containers[0].env[2].name: Invalid value: "A=B": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`}},

		// ports
		{"container port missing and out of range", func(p *Pod) {
			p.Spec.Containers[0].Ports = []ContainerPort{{Protocol: ProtocolTCP}, {ContainerPort: 65536, Protocol: ProtocolTCP}, {ContainerPort: -1, Protocol: ProtocolTCP}}
		}, []string{
			`spec.containers[0].ports[0].containerPort: Required value`,
			`spec.containers[0].ports[1].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive`,
			`spec.containers[0].ports[2].containerPort: Invalid value: -1: must be between 1 and 65535, inclusive`}},
		{"host port out of range", func(p *Pod) { p.Spec.Containers[0].Ports[0].HostPort = 70000 }, []string{
			`spec.containers[0].ports[0].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive`}},
		{"host port negative", func(p *Pod) { p.Spec.Containers[0].Ports[0].HostPort = -5 }, []string{
			`spec.containers[0].ports[0].hostPort: Invalid value: -5: must be between 1 and 65535, inclusive`}},
		{"protocol", func(p *Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" }, []string{
			`spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`}},
		{"protocol not defaulted", func(p *Pod) { p.Spec.Containers[1].Ports[0].Protocol = "" }, []string{
			`spec.containers[1].ports[0].protocol: Required value`,
			`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP/80"`}},
		{"port names", func(p *Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
				ContainerPort{Name: "http", ContainerPort: 81, Protocol: ProtocolTCP},
				ContainerPort{Name: "Bad_Name", ContainerPort: 82, Protocol: ProtocolTCP})
		}, []string{
			`spec.containers[0].ports[1].name: Duplicate value: "http"`,
			`spec.containers[0].ports[2].name: Invalid value: "Bad_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`}},
		{"same host port and protocol in two containers", func(p *Pod) { p.Spec.Containers[1].Ports[0].Protocol = ProtocolTCP }, []string{
			`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP/80"`}},
		{"same host port twice in one container", func(p *Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, ContainerPort{ContainerPort: 9090, HostPort: 80, Protocol: ProtocolTCP})
		}, []string{`spec.containers[0].ports[1].hostPort: Duplicate value: "TCP/80"`}},
		{"init containers may reuse the pod's host ports", func(p *Pod) {
			p.Spec.InitContainers[0].Ports = []ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: ProtocolTCP}}
		}, nil},

		// resources
		{"limit below request", func(p *Pod) { p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("256Mi") }, []string{
			`spec.containers[0].resources.limits.memory: Invalid value: "256Mi": must be greater than or equal to memory request`}},
		{"limit equal to request, in other units", func(p *Pod) {
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("0.5Gi")
		}, nil},
		{"negative quantities", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests[ResourceCPU] = resource.MustParse("-1")
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("-1Gi")
		}, []string{
			`spec.containers[0].resources.limits.memory: Invalid value: "-1Gi": must be greater than or equal to 0`,
			`spec.containers[0].resources.requests.cpu: Invalid value: "-1": must be greater than or equal to 0`}},
		{"only cpu, ephemeral-storage and memory", func(p *Pod) {
			p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = resource.MustParse("1")
			p.Spec.Containers[0].Resources.Requests[ResourcePods] = resource.MustParse("1")
		}, []string{
			`spec.containers[0].resources.limits[nvidia.com/gpu]: Unsupported value: "nvidia.com/gpu": supported values: "cpu", "ephemeral-storage", "memory"`,
			`spec.containers[0].resources.requests.pods: Unsupported value: "pods": supported values: "cpu", "ephemeral-storage", "memory"`}},

		{"quantities too large for placement's integers", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests[ResourceCPU] = resource.MustParse("1e9999")
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("2Pi")
		}, []string{
			`spec.containers[0].resources.limits.memory: Invalid value: "2Pi": must be less than or equal to 1Pi`,
			`spec.containers[0].resources.requests.cpu: Invalid value: "1e9999": must be less than or equal to 1M`}},
		{"pod total too large", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests[ResourceMemory] = resource.MustParse("1Pi")
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("1Pi")
			p.Spec.Containers[1].Resources.Limits = ResourceList{ResourceMemory: resource.MustParse("1Ki")}
			p.Spec.Containers[1].Resources.Requests = nil // counted by its limit
		}, []string{
			`spec.containers: Invalid value: "1099511627777Ki": the containers' memory requests must add up to at most 1Pi`}},
		{"largest allowed", func(p *Pod) {
			p.Spec.Containers[0].Resources.Requests[ResourceMemory] = resource.MustParse("1Pi")
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("1Pi")
			p.Spec.Containers[0].Resources.Requests[ResourceCPU] = resource.MustParse("1M")
		}, nil},

		// volumes and mounts
		{"volume name missing, invalid, duplicate", func(p *Pod) {
			p.Spec.Volumes[1].Name = "data"
			p.Spec.Volumes[2].Name = "Mem"
			p.Spec.Volumes = append(p.Spec.Volumes, Volume{VolumeSource: VolumeSource{EmptyDir: &EmptyDirVolumeSource{}}})
			p.Spec.Containers[0].VolumeMounts = p.Spec.Containers[0].VolumeMounts[:1]
		}, []string{
			`spec.volumes[1].name: Duplicate value: "data"`,
			`spec.volumes[2].name: Invalid value: "Mem": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			`spec.volumes[3].name: Required value`}},
		{"no volume source", func(p *Pod) { p.Spec.Volumes[2].EmptyDir = nil }, []string{`spec.volumes[2]: Required value: must specify a volume type`}},
		{"two volume sources", func(p *Pod) { p.Spec.Volumes[2].HostPath = &HostPathVolumeSource{Path: "/x"} }, []string{
			`spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type`}},
		{"emptyDir medium and size", func(p *Pod) {
			p.Spec.Volumes[2].EmptyDir = &EmptyDirVolumeSource{Medium: "HugePages", SizeLimit: ptr(resource.MustParse("-1"))}
		}, []string{
			`spec.volumes[2].emptyDir.medium: Unsupported value: "HugePages": supported values: "", "Memory"`,
			`spec.volumes[2].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity`}},
		{"hostPath path relative", func(p *Pod) { p.Spec.Volumes[1].HostPath.Path = "srv" }, []string{
			`spec.volumes[1].hostPath.path: Invalid value: "srv": must be an absolute path`}},
		{"hostPath path with ..", func(p *Pod) { p.Spec.Volumes[1].HostPath.Path = "/srv/../etc" }, []string{
			`spec.volumes[1].hostPath.path: Invalid value: "/srv/../etc": must not contain '..'`}},
		{"hostPath path missing, type unsupported", func(p *Pod) { p.Spec.Volumes[1].HostPath = &HostPathVolumeSource{Type: ptr(HostPathType("Socket"))} }, []string{
			`spec.volumes[1].hostPath.path: Required value`,
			`spec.volumes[1].hostPath.type: Unsupported value: "Socket": supported values: "", "Directory", "DirectoryOrCreate", "File", "FileOrCreate"`}},
		{"configMap, secret, downwardAPI and projected volumes are fine", func(p *Pod) {
			p.Spec.Volumes[2].EmptyDir = nil
			p.Spec.Volumes[2].ConfigMap = &ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
				Items: []KeyToPath{{Key: "a", Path: "dir/a.conf", Mode: ptr(int32(0o600))}}, DefaultMode: ptr(int32(0o644))}
			p.Spec.Volumes = append(p.Spec.Volumes,
				Volume{Name: "sec", VolumeSource: VolumeSource{Secret: &SecretVolumeSource{SecretName: "s", Optional: ptr(true)}}},
				Volume{Name: "dw", VolumeSource: VolumeSource{DownwardAPI: &DownwardAPIVolumeSource{Items: []DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
					{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}}}}},
				Volume{Name: "pr", VolumeSource: VolumeSource{Projected: &ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []KeyToPath{{Key: "k", Path: "k"}}}}}}}})
		}, nil},
		{"configMap volume: name, item key, paths and modes", func(p *Pod) {
			p.Spec.Volumes[2].EmptyDir = nil
			p.Spec.Volumes[2].ConfigMap = &ConfigMapVolumeSource{DefaultMode: ptr(int32(0o1777)), Items: []KeyToPath{
				{Path: "/etc/a"}, {Key: "b", Path: "x/../../b", Mode: ptr(int32(-1))}, {Key: "c", Path: "..data"}}}
		}, []string{
			`spec.volumes[2].configMap.name: Required value`,
			`spec.volumes[2].configMap.defaultMode: Invalid value: 1023: must be a number between 0 and 0777 (octal), both inclusive`,
			`spec.volumes[2].configMap.items[0].key: Required value`,
			`spec.volumes[2].configMap.items[0].path: Invalid value: "/etc/a": must be a relative path`,
			`spec.volumes[2].configMap.items[1].path: Invalid value: "x/../../b": must not contain '..'`,
			`spec.volumes[2].configMap.items[1].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both inclusive`,
			`spec.volumes[2].configMap.items[2].path: Invalid value: "..data": must not start with '..'`}},
		{"secret volume beside an emptyDir, without secretName", func(p *Pod) {
			p.Spec.Volumes[2].Secret = &SecretVolumeSource{}
		}, []string{
			`spec.volumes[2].secret: Forbidden: may not specify more than 1 volume type`,
			`spec.volumes[2].secret.secretName: Required value`}},
		{"downwardAPI volume: fields and resources", func(p *Pod) {
			p.Spec.Volumes[2].EmptyDir = nil
			p.Spec.Volumes[2].DownwardAPI = &DownwardAPIVolumeSource{Items: []DownwardAPIVolumeFile{
				{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}},
				{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.gpu"}},
				{Path: "both", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}},
				{Path: "none"}}}
		}, []string{
			`spec.volumes[2].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid"`,
			`spec.volumes[2].downwardAPI.items[1].resourceFieldRef.containerName: Required value`,
			`spec.volumes[2].downwardAPI.items[1].resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", "limits.memory", "limits.ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage"`,
			`spec.volumes[2].downwardAPI.items[2]: Invalid value: "resource": fieldRef and resourceFieldRef can not be specified simultaneously`,
			`spec.volumes[2].downwardAPI.items[3]: Required value: one of fieldRef and resourceFieldRef is required`}},
		{"projected volume: empty source, duplicate paths", func(p *Pod) {
			p.Spec.Volumes[2].EmptyDir = nil
			p.Spec.Volumes[2].Projected = &ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []KeyToPath{{Key: "a", Path: "p"}}}},
				{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "bundle"}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []KeyToPath{{Key: "a", Path: "p"}}}}}}
		}, []string{
			`spec.volumes[2].projected.sources[0]: Required value: must specify exactly 1 volume type per source`,
			`spec.volumes[2].projected.sources[2].clusterTrustBundle: Forbidden: unsupported field`,
			`spec.volumes[2].projected.sources[3].secret.items[0].path: Invalid value: "p": conflicting duplicate paths`}},
		{"projected serviceAccountToken: lifetime bounds, path, one type per source", func(p *Pod) {
			p.Spec.Volumes[2].EmptyDir = nil
			p.Spec.Volumes[2].Projected = &ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(599))}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "../token", ExpirationSeconds: ptr(int64(1<<32 + 1))}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"},
					DownwardAPI: &corev1.DownwardAPIProjection{}}}}
		}, []string{
			`spec.volumes[2].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`,
			`spec.volumes[2].projected.sources[1].serviceAccountToken.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds`,
			`spec.volumes[2].projected.sources[1].serviceAccountToken.path: Invalid value: "../token": must not contain '..'`,
			`spec.volumes[2].projected.sources[1].serviceAccountToken.path: Invalid value: "../token": must not start with '..'`,
			`spec.volumes[2].projected.sources[2].serviceAccountToken.path: Required value`,
			`spec.volumes[2].projected.sources[3].serviceAccountToken.path: Invalid value: "token": conflicting duplicate paths`,
			`spec.volumes[2].projected.sources[3].downwardAPI: Forbidden: may not specify more than 1 volume type per source`}},
		{"subPath relative without '..'", func(p *Pod) {
			p.Spec.Containers[0].VolumeMounts[0].SubPath = "/abs"
			p.Spec.Containers[0].VolumeMounts[1].SubPath = "a/../../b"
			p.Spec.Containers[1].VolumeMounts = []VolumeMount{{Name: "host", MountPath: "/x", SubPath: "logs/app"}}
		}, []string{
			`spec.containers[0].volumeMounts[0].subPath: Invalid value: "/abs": must be a relative path`,
			`spec.containers[0].volumeMounts[1].subPath: Invalid value: "a/../../b": must not contain '..'`}},
		{"mount of a missing volume", func(p *Pod) { p.Spec.InitContainers[0].VolumeMounts[0].Name = "nope" }, []string{
			`spec.initContainers[0].volumeMounts[0].name: Not found: "nope"`}},
		{"mount of an invalid volume", func(p *Pod) {
			p.Spec.Volumes[2].Name = "Mem"
			p.Spec.Containers[1].VolumeMounts = []VolumeMount{{Name: "Mem", MountPath: "/m"}}
		}, []string{
			`spec.volumes[2].name: Invalid value: "Mem": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			`spec.containers[1].volumeMounts[0].name: Not found: "Mem"`}},
		{"mount name and path missing", func(p *Pod) { p.Spec.Containers[0].VolumeMounts[1] = VolumeMount{} }, []string{
			`spec.containers[0].volumeMounts[1].name: Required value`,
			`spec.containers[0].volumeMounts[1].mountPath: Required value`}},
		{"mount path relative", func(p *Pod) { p.Spec.Containers[0].VolumeMounts[1].MountPath = "host" }, []string{
			`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "host": must be an absolute path`}},
		{"mount path twice in a container", func(p *Pod) { p.Spec.Containers[0].VolumeMounts[1].MountPath = "/data/" }, []string{
			`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data/": must be unique`}},
		{"same mount path in two containers is fine", func(p *Pod) {
			p.Spec.Containers[1].VolumeMounts = []VolumeMount{{Name: "host", MountPath: "/data"}}
		}, nil},

		// pod-level fields
		{"restart policy", func(p *Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{
			`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"`}},
		{"restart policy not defaulted", func(p *Pod) { p.Spec.RestartPolicy = "" }, []string{`spec.restartPolicy: Required value`}},
		{"hostname", func(p *Pod) { p.Spec.Hostname = "web.example" }, []string{`spec.hostname: Invalid value: "web.example": must not contain dots`}},
		{"node selector", func(p *Pod) { p.Spec.NodeSelector = map[string]string{"disk": "fast ssd"} }, []string{
			`spec.nodeSelector: Invalid value: "fast ssd": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"node name", func(p *Pod) { p.Spec.NodeName = "Node_1" }, []string{
			`spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
		{"termination grace period", func(p *Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(-1)) }, []string{
			`spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0`}},
		{"zero termination grace period is fine", func(p *Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(0)) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			tt.mutate(p)
			got := causeStrings(t, ValidatePod(p))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("causes:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}

// TestValidatePodReportsEverything checks that all problems come at once, in
// one message worded as Kubernetes words it.
func TestValidatePodReportsEverything(t *testing.T) {
	p := validPod()
	p.Spec.Containers[1].Name = "app"
	p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("256Mi")
	p.Spec.Volumes[2].EmptyDir = nil
	p.Spec.RestartPolicy = "Sometimes"
	err := ValidatePod(p)
	want := `Pod "web" is invalid: [` +
		`spec.volumes[2]: Required value: must specify a volume type, ` +
		`spec.containers[0].resources.limits.memory: Invalid value: "256Mi": must be greater than or equal to memory request, ` +
		`spec.containers[1].name: Duplicate value: "app", ` +
		`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"]`
	if err == nil || err.Error() != want {
		t.Fatalf("ValidatePod:\n got: %v\nwant: %s", err, want)
	}
	if causes := causeStrings(t, err); len(causes) != 4 {
		t.Errorf("got %d causes, want 4: %q", len(causes), causes)
	}
	var st *Status
	errors.As(err, &st)
	if st.Details.Name != "web" || st.Details.Causes[2].Type != "FieldValueDuplicate" {
		t.Errorf("details = %+v", st.Details)
	}

	// One problem: no brackets.
	p = validPod()
	p.Spec.Hostname = "a.b"
	if err := ValidatePod(p); err == nil || err.Error() != `Pod "web" is invalid: spec.hostname: Invalid value: "a.b": must not contain dots` {
		t.Errorf("ValidatePod = %v", err)
	}
}

// TestValidatePodNilError makes sure a valid pod gives a nil error
// interface, not a typed nil *Status.
func TestValidatePodNilError(t *testing.T) {
	if err := ValidatePod(validPod()); err != nil {
		t.Fatalf("ValidatePod(valid) = %v", err)
	}
	if err := ValidatePodUpdate(validPod(), validPod()); err != nil {
		t.Fatalf("ValidatePodUpdate(same) = %v", err)
	}
}

func TestValidatePodUpdate(t *testing.T) {
	const forbidden = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`"
	tests := []struct {
		name   string
		mutate func(p *Pod)
		want   []string
	}{
		{"images", func(p *Pod) {
			p.Spec.Containers[0].Image = "busybox:1.37"
			p.Spec.InitContainers[0].Image = "alpine:3"
		}, nil},
		{"labels and annotations", func(p *Pod) {
			p.Labels = map[string]string{"app": "web", "tier": "front"}
			p.Annotations = map[string]string{"note": "x"}
		}, nil},
		{"same quantity in other units", func(p *Pod) {
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("1024Mi")
		}, nil},
		{"status and cluster-set metadata", func(p *Pod) {
			p.Status.Phase = PodRunning
			p.ResourceVersion = "42"
		}, nil},
		{"name", func(p *Pod) { p.Name = "other" }, []string{`metadata.name: Invalid value: "other": field is immutable`}},
		{"namespace", func(p *Pod) { p.Namespace = "prod" }, []string{`metadata.namespace: Invalid value: "prod": field is immutable`}},
		{"uid", func(p *Pod) { p.UID = "other" }, []string{`metadata.uid: Invalid value: "other": field is immutable`}},
		{"restart policy", func(p *Pod) { p.Spec.RestartPolicy = RestartPolicyNever }, []string{
			forbidden + " (changed: spec.restartPolicy)"}},
		{"command, resources and a new container", func(p *Pod) {
			p.Spec.Containers[0].Command = []string{"sh"}
			p.Spec.Containers[0].Resources.Limits[ResourceMemory] = resource.MustParse("2Gi")
		}, []string{forbidden + " (changed: spec.containers[0].resources.limits.memory, spec.containers[0].command)"}},
		{"a container added", func(p *Pod) {
			p.Spec.Containers = append(p.Spec.Containers, Container{Name: "more", Image: "x", ImagePullPolicy: PullAlways})
		}, []string{forbidden + " (changed: spec.containers)"}},
		{"node name cleared", func(p *Pod) { p.Spec.NodeName = "" }, []string{forbidden + " (changed: spec.nodeName)"}},
		// Pull secrets, like the rest of the spec, are the pod's for life
		// (the ServiceAccount admission gives them at creation only).
		{"image pull secrets", func(p *Pod) { p.Spec.ImagePullSecrets = []LocalObjectReference{{Name: "regcred"}} },
			[]string{forbidden + " (changed: spec.imagePullSecrets)"}},
		{"the new pod is validated too", func(p *Pod) { p.Spec.Containers[0].Image = "" }, []string{
			`spec.containers[0].image: Required value`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldPod, newPod := validPod(), validPod()
			oldPod.UID = "uid-1"
			newPod.UID = "uid-1"
			tt.mutate(newPod)
			got := causeStrings(t, ValidatePodUpdate(oldPod, newPod))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("causes:\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}
}
