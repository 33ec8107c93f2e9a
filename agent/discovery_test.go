package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	gdiscovery "github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/pki"
)

// restConfig is a client-go configuration for a, as a certificate of
// user and groups.
func restConfig(t *testing.T, a *Agent, user string, groups ...string) *rest.Config {
	t.Helper()
	leaf, err := a.tls.ca.Issue(pki.Request{CommonName: user, Organization: groups, Client: true, TTL: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &rest.Config{
		Host: "https://" + a.apiListener.Addr().String(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData: a.tls.ca.CertPEM(), CertData: leaf.CertPEM, KeyData: leaf.KeyPEM,
		},
		Timeout: 30 * time.Second,
	}
}

// TestKubernetesClients runs one agent and talks to its real routes,
// behind its authentication, as client-go and kubectl do: discovery (for
// an identity without any gossipod role too, as Kubernetes'
// system:discovery allows), /version, OpenAPI, and the write options.
func TestKubernetesClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	a := agents[0]
	admin := restConfig(t, a, "admin", pki.AdminGroup)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("discovery", func(t *testing.T) {
		for _, cfg := range []*rest.Config{admin, restConfig(t, a, "bob", "acme")} {
			for _, legacy := range []bool{false, true} {
				dc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
				dc.UseLegacyDiscovery = legacy
				_, lists, err := dc.ServerGroupsAndResources()
				if err != nil {
					t.Fatalf("legacy %v: %v", legacy, err)
				}
				var got, want []string
				for _, l := range lists {
					for _, r := range l.APIResources {
						got = append(got, l.GroupVersion+" "+r.Name)
					}
				}
				for _, r := range gdiscovery.Resources() {
					want = append(want, r.GroupVersion().String()+" "+r.Resource)
					for _, s := range r.Subresources {
						want = append(want, r.GroupVersion().String()+" "+r.Resource+"/"+s.Name)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("legacy %v: discovered %v, want %v", legacy, got, want)
				}
			}
		}
		if _, err := kubernetes.NewForConfigOrDie(admin).Discovery().ServerResourcesForGroupVersion("policy/v1"); !apierrors.IsNotFound(err) {
			t.Errorf("policy/v1: %v, want NotFound", err)
		}
	})

	t.Run("version", func(t *testing.T) {
		anonymous := restConfig(t, a, "x")
		anonymous.TLSClientConfig.CertData, anonymous.TLSClientConfig.KeyData = nil, nil
		info, err := discovery.NewDiscoveryClientForConfigOrDie(anonymous).ServerVersion()
		if err != nil || !strings.HasPrefix(info.GitVersion, "v"+gdiscovery.KubernetesVersion+"+gossipod") {
			t.Errorf("version without credentials: %+v, %v", info, err)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		oapi := discovery.NewDiscoveryClientForConfigOrDie(admin).OpenAPIV3()
		spec, err := openapi3.NewRoot(oapi).GVSpec(schema.GroupVersion{Group: "apps", Version: "v1"})
		if err != nil {
			t.Fatal(err)
		}
		if spec.Components.Schemas["io.k8s.api.apps.v1.Deployment"] == nil {
			t.Error("no Deployment schema in apps/v1")
		}
		verifier := resource.NewQueryParamVerifierV3(dynamic.NewForConfigOrDie(admin), oapi, resource.QueryParamFieldValidation)
		if err := verifier.HasSupport(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}); err != nil {
			t.Errorf("fieldValidation for pods: %v", err)
		}
		// OpenAPI v2 in protobuf, as kubectl before 1.27 validates with
		// it; readable by any authenticated user, as discovery is.
		v2, err := discovery.NewDiscoveryClientForConfigOrDie(restConfig(t, a, "bob", "acme")).OpenAPISchema()
		if err != nil {
			t.Fatalf("OpenAPI v2: %v", err)
		}
		if !slices.ContainsFunc(v2.GetDefinitions().GetAdditionalProperties(), func(d *openapi_v2.NamedSchema) bool {
			return d.GetName() == "io.k8s.api.apps.v1.Deployment"
		}) {
			t.Error("no Deployment definition in OpenAPI v2")
		}
	})

	t.Run("write options", func(t *testing.T) {
		// client-go's typed clients write protobuf unless told otherwise;
		// gossipod decodes JSON and YAML only.
		jsonConfig := rest.CopyConfig(admin)
		jsonConfig.ContentType = "application/json"
		pods := kubernetes.NewForConfigOrDie(jsonConfig).CoreV1().Pods("default")
		pod := func(name string) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}
		}
		for _, tc := range []struct {
			opts metav1.CreateOptions
			want string // "" for created
		}{
			{metav1.CreateOptions{FieldValidation: "Strict", FieldManager: "kubectl-client-side-apply"}, ""},
			{metav1.CreateOptions{FieldValidation: "Ignore"}, "fieldValidation=Ignore is not supported"},
			{metav1.CreateOptions{FieldValidation: "Warn"}, "fieldValidation=Warn is not supported"},
			{metav1.CreateOptions{DryRun: []string{"All"}}, "dryRun=All is not supported"},
		} {
			name := fmt.Sprintf("opts-%d", len(tc.want))
			_, err := pods.Create(ctx, pod(name), tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("create with %+v: %v", tc.opts, err)
			case tc.want != "" && (!apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("create with %+v: %v, want a BadRequest saying %q", tc.opts, err, tc.want)
			}
			if tc.want != "" {
				if _, err := pods.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("create with %+v refused, yet the pod is there (%v)", tc.opts, err)
				}
			}
		}
		err := pods.Delete(ctx, "opts-0", metav1.DeleteOptions{DryRun: []string{"All"}})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("delete --dry-run=server: %v, want BadRequest", err)
		}
		if _, err := pods.Get(ctx, "opts-0", metav1.GetOptions{}); err != nil {
			t.Errorf("the pod a dry-run delete named: %v", err)
		}
	})
}

// TestKubectl runs kubectl itself (k8s.io/kubectl's commands, in this
// process) against one agent with a kubeconfig, for what discovery,
// /version and OpenAPI make work: api-resources, explain, version without
// a skew warning, and apply with its default --validate=strict, which
// needs OpenAPI v3 to say the server validates fields.
func TestKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an agent")
	}
	agents, stop := startAgents(t, nextBlock(), 1, 1)
	defer stop()
	waitForLeader(t, agents, 30*time.Second)
	kubeconfig := writeKubeconfig(t, restConfig(t, agents[0], "admin", pki.AdminGroup))
	cacheDir := t.TempDir()
	kubectl := func(args ...string) (string, error) {
		t.Helper()
		return runKubectl(kubeconfig, cacheDir, args...)
	}

	// kubectl built into a test binary has no version of its own (an
	// unparsable v0.0.0-master), so it cannot compute the skew here; the
	// e2e test's stamped kubectl does. The server's side must be there.
	out, err := kubectl("version", "-o", "json")
	if !strings.Contains(out, `"serverVersion": {`) || !strings.Contains(out, `"gitVersion": "v`+gdiscovery.KubernetesVersion+"+gossipod") ||
		(err != nil && !strings.Contains(err.Error(), "client version error")) {
		t.Errorf("kubectl version: %v\n%s", err, out)
	}
	out, err = kubectl("api-resources", "--no-headers")
	for _, want := range []string{"pods po v1 true Pod", "deployments deploy apps/v1 true Deployment", "nodes no v1 false Node"} {
		if err != nil || !matchLine(out, want) {
			t.Errorf("kubectl api-resources: no line like %q: %v\n%s", want, err, out)
		}
	}
	out, err = kubectl("explain", "deploy.spec.template.spec.containers.image")
	if err != nil || !strings.Contains(out, "FIELD: image <string>") {
		t.Errorf("kubectl explain: %v\n%s", err, out)
	}

	dir := t.TempDir()
	manifest := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	web := manifest("web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: busybox
`)
	out, err = kubectl("apply", "-f", web)
	if err != nil || !strings.Contains(out, "deployment.apps/web created") {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	out, err = kubectl("apply", "-f", web)
	if err != nil || !strings.Contains(out, "deployment.apps/web unchanged") {
		t.Errorf("kubectl apply again, unchanged: %v\n%s", err, out)
	}
	typo := manifest("typo.yaml", strings.Replace(string(must(os.ReadFile(web))), "name: web", "name: typo", 1)+
		"  replicaz: 2\n")
	out, err = kubectl("apply", "-f", typo)
	if err == nil || !strings.Contains(out+err.Error(), "replicaz") {
		t.Errorf("kubectl apply of an unknown field: %v\n%s", err, out)
	}
	// A new object, so that kubectl sends its options (an unchanged one
	// it does not send at all).
	other := manifest("other.yaml", strings.ReplaceAll(string(must(os.ReadFile(web))), "web", "other"))
	for _, flag := range []string{"--validate=false", "--validate=warn", "--dry-run=server"} {
		out, err = kubectl("apply", flag, "-f", other)
		if err == nil || !strings.Contains(out+err.Error(), "is not supported") {
			t.Errorf("kubectl apply %s: %v\n%s", flag, err, out)
		}
	}
	if out, err := kubectl("get", "deployment", "other", "-o", "name"); err == nil {
		t.Errorf("a refused apply created the Deployment: %s", out)
	}

	// Namespaces take PATCH, so kubectl validates on the server
	// (fieldValidation=Strict): a new, an unchanged and a changed Namespace
	// apply, and an unknown field is refused with its path.
	ns := manifest("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
	for _, want := range []string{"namespace/shop created", "namespace/shop unchanged"} {
		if out, err := kubectl("apply", "-f", ns); err != nil || !strings.Contains(out, want) {
			t.Errorf("kubectl apply of a Namespace: %v\n%s; want %q", err, out, want)
		}
	}
	nsTypo := manifest("nstypo.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop2\n  labelz: {a: b}\n")
	if out, err := kubectl("apply", "-f", nsTypo); err == nil || !strings.Contains(err.Error(), "metadata.labelz: unknown field") {
		t.Errorf("kubectl apply of a Namespace with an unknown field: %v\n%s", err, out)
	}
	changed := manifest("ns2.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {a: b}\n")
	if out, err := kubectl("apply", "-f", changed); err != nil || !strings.Contains(out, "namespace/shop configured") {
		t.Errorf("kubectl apply of a changed Namespace: %v\n%s; want configured", err, out)
	}
}

// runKubectl runs kubectl's command tree with args, returning what it
// printed; a failure kubectl would exit with is an error carrying its
// message.
func runKubectl(kubeconfig, cacheDir string, args ...string) (out string, err error) {
	var stdout, stderr bytes.Buffer
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	flags.CacheDir = &cacheDir
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
	cmd := kubectlcmd.NewKubectlCommand(kubectlcmd.KubectlOptions{
		Arguments: append([]string{"kubectl"}, args...), ConfigFlags: flags.WithWarningPrinter(streams), IOStreams: streams})
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	type exit struct{ msg string }
	cmdutil.BehaviorOnFatal(func(msg string, code int) { panic(exit{msg}) })
	defer cmdutil.DefaultBehaviorOnFatal()
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exit)
			if !ok {
				panic(r)
			}
			err = errors.New(e.msg)
		}
		out = stdout.String() + stderr.String()
	}()
	err = cmd.Execute()
	return "", err
}

// writeKubeconfig writes cfg as a kubeconfig file.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["gossipod"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	kc.Contexts["gossipod"] = &clientcmdapi.Context{Cluster: "gossipod", AuthInfo: "admin", Namespace: "default"}
	kc.CurrentContext = "gossipod"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// matchLine reports whether a line of out has the words of pattern, the
// columns of kubectl's tables.
func matchLine(out, pattern string) bool {
	words := strings.Fields(pattern)
	for line := range strings.Lines(out) {
		if slices.Equal(strings.Fields(line), words) {
			return true
		}
	}
	return false
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
