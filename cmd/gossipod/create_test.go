package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gossipod/gossipod/api"
)

// writeKeyPair writes a self-signed certificate and its key as PEM files
// into dir, named name.crt and name.key.
func writeKeyPair(t *testing.T, dir, name string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath = writeFile(t, dir, name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyPath = writeFile(t, dir, name+".key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certPath, keyPath
}

// createCase is one create command line and what kubectl's own code does
// with the same line.
type createCase struct {
	name string
	// args follow "create", without -o or --dry-run.
	args []string
	// kind is configmap or secret; ns the namespace it lands in; object
	// the name it gets (with --append-hash, its hash, as kubectl computed
	// it when the test was written).
	kind, ns, object string
	// kubectl runs kubectl's code for the same line with --dry-run=client
	// and -o output.
	kubectl func(output string) (runtime.Object, string, error)
}

// TestCreate: every create subcommand, end to end against the API server:
// with --dry-run=client it prints, for every -o, the very bytes kubectl
// prints and sends nothing; without, the stored object is the one kubectl
// builds (as the server defaults it), and a second create fails with
// Kubernetes' AlreadyExists in kubectl's words.
func TestCreate(t *testing.T) {
	dir := sourceFixtures(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	t.Setenv("GOSSIPOD_TEST_FROM_ENV", "from the environment")
	cert, key := writeKeyPair(t, dir, "web.example")
	dockerConfig := writeFile(t, dir, "docker/config.json", `{"auths":{"registry.example:5000":{"auth":"dTpw"}}}`)

	cm := func(name, ns string, src dataSources, fl kubectlFlags) func(string) (runtime.Object, string, error) {
		return func(o string) (runtime.Object, string, error) { return kubectlConfigMap(name, ns, src, fl, o) }
	}
	generic := func(name, ns, typ string, src dataSources, fl kubectlFlags) func(string) (runtime.Object, string, error) {
		return func(o string) (runtime.Object, string, error) {
			return kubectlSecretGeneric(name, ns, typ, src, fl, o)
		}
	}
	docker := func(name, ns string, d dockerRegistryOptions, fl kubectlFlags) func(string) (runtime.Object, string, error) {
		return func(o string) (runtime.Object, string, error) {
			return kubectlSecretDockerRegistry(name, ns, d, fl, o)
		}
	}
	tlsPair := func(name, ns string, fl kubectlFlags) func(string) (runtime.Object, string, error) {
		return func(o string) (runtime.Object, string, error) { return kubectlSecretTLS(name, ns, cert, key, fl, o) }
	}
	cases := []createCase{
		{name: "configmap from literals", kind: "configmap", ns: "default", object: "lits",
			args:    []string{"configmap", "lits", "--from-literal=a=b", "--from-literal", "c=x,y", "--from-literal=d=e=f"},
			kubectl: cm("lits", "", dataSources{literals: []string{"a=b", "c=x,y", "d=e=f"}}, kubectlFlags{})},
		{name: "configmap from files, a directory and binary, flags on both sides of NAME", kind: "configmap", ns: "default", object: "files",
			args: []string{"cm", "--from-literal=x=y", "files", "--from-file=" + p("conf") + "," + p("bin.dat"), "--from-file", "props=" + p("app.properties")},
			kubectl: cm("files", "", dataSources{files: []string{p("conf"), p("bin.dat"), "props=" + p("app.properties")},
				literals: []string{"x=y"}}, kubectlFlags{})},
		{name: "configmap from env files in a namespace", kind: "configmap", ns: "team-a", object: "envs",
			args:    []string{"configmap", "envs", "-n", "team-a", "--from-env-file=" + p("envs/good.env"), "--from-env-file=" + p("envs/second.env")},
			kubectl: cm("envs", "team-a", dataSources{envFiles: []string{p("envs/good.env"), p("envs/second.env")}}, kubectlFlags{})},
		{name: "configmap with its hash", kind: "configmap", ns: "default", object: "app-config-k55bgk4dk8",
			args:    []string{"configmap", "app-config", "--from-literal=color=blue", "--append-hash"},
			kubectl: cm("app-config", "", dataSources{literals: []string{"color=blue"}}, kubectlFlags{appendHash: true})},
		{name: "generic secret", kind: "secret", ns: "default", object: "creds",
			args:    []string{"secret", "generic", "creds", "--from-literal=password=s3cr,et", "--from-file=ssh-privatekey=" + p("bin.dat")},
			kubectl: generic("creds", "", "", dataSources{literals: []string{"password=s3cr,et"}, files: []string{"ssh-privatekey=" + p("bin.dat")}}, kubectlFlags{})},
		{name: "generic secret of a type, in a namespace", kind: "secret", ns: "team-a", object: "basic",
			args: []string{"secret", "generic", "basic", "--type=kubernetes.io/basic-auth", "--from-literal=username=admin",
				"--from-literal=password=t0p", "--namespace=team-a"},
			kubectl: generic("basic", "team-a", "kubernetes.io/basic-auth", dataSources{literals: []string{"username=admin", "password=t0p"}}, kubectlFlags{})},
		{name: "generic secret with its hash", kind: "secret", ns: "default", object: "db-7f54gbhmd2",
			args:    []string{"secret", "generic", "db", "--from-literal=password=hunter2", "--append-hash"},
			kubectl: generic("db", "", "", dataSources{literals: []string{"password=hunter2"}}, kubectlFlags{appendHash: true})},
		{name: "docker-registry secret for Docker Hub", kind: "secret", ns: "default", object: "hub",
			args:    []string{"secret", "docker-registry", "hub", "--docker-username=u", "--docker-password=p", "--docker-email=u@example.com"},
			kubectl: docker("hub", "", dockerRegistryOptions{username: "u", password: "p", email: "u@example.com"}, kubectlFlags{})},
		{name: "docker-registry secret with its hash", kind: "secret", ns: "default", object: "regcred-b76kdbmhch",
			args: []string{"secret", "docker-registry", "regcred", "--docker-server=registry.example:5000", "--docker-username=ci",
				"--docker-password=pa:ss", "--append-hash"},
			kubectl: docker("regcred", "", dockerRegistryOptions{server: "registry.example:5000", username: "ci", password: "pa:ss"}, kubectlFlags{appendHash: true})},
		{name: "docker-registry secret from a config file", kind: "secret", ns: "default", object: "fromfile",
			args:    []string{"secret", "docker-registry", "fromfile", "--from-file=" + dockerConfig},
			kubectl: docker("fromfile", "", dockerRegistryOptions{files: []string{dockerConfig}}, kubectlFlags{})},
		{name: "configmap with its configuration saved and its hash", kind: "configmap", ns: "team-a", object: "saved-tg54bbfkc8",
			args:    []string{"configmap", "saved", "--save-config", "--from-literal=a=<b>&c", "--append-hash", "-n", "team-a"},
			kubectl: cm("saved", "team-a", dataSources{literals: []string{"a=<b>&c"}}, kubectlFlags{appendHash: true, saveConfig: true})},
		{name: "docker-registry secret with its configuration saved", kind: "secret", ns: "default", object: "saved",
			args:    []string{"secret", "docker-registry", "saved", "--docker-username=u", "--docker-password=p", "--save-config"},
			kubectl: docker("saved", "", dockerRegistryOptions{username: "u", password: "p"}, kubectlFlags{saveConfig: true})},
		{name: "tls secret with its configuration saved", kind: "secret", ns: "default", object: "saved-tls",
			args:    []string{"secret", "tls", "saved-tls", "--cert=" + cert, "--key", key, "--save-config"},
			kubectl: tlsPair("saved-tls", "", kubectlFlags{saveConfig: true})},
		{name: "tls secret", kind: "secret", ns: "default", object: "web-tls",
			args:    []string{"secret", "tls", "web-tls", "--cert=" + cert, "--key", key},
			kubectl: tlsPair("web-tls", "", kubectlFlags{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestServer(t)
			f.namespace("team-a")
			var want runtime.Object
			for _, output := range []string{"", "yaml", "json", "name"} {
				args := append(append([]string{"create"}, tc.args...), "--dry-run=client")
				if output != "" {
					args = append(args, "-o", output)
				}
				out, errOut, err := f.run("", args...)
				obj, kout, kerr := tc.kubectl(output)
				if kerr != nil {
					t.Fatalf("kubectl's code: %v", kerr)
				}
				want = obj
				if err != nil || out != kout {
					t.Fatalf("-o %q --dry-run=client: %q, %q, %v; kubectl prints\n%s", output, out, errOut, err, kout)
				}
			}
			if reqs := f.takeRequests(); len(reqs) > 0 {
				t.Errorf("a client dry run sent %q", reqs)
			}
			if name := want.(interface{ GetName() string }).GetName(); name != tc.object {
				t.Errorf("kubectl names it %q, the test says %q", name, tc.object)
			}
			if f.stored(tc.kind, tc.ns, tc.object) != nil {
				t.Fatalf("a client dry run stored %s %s", tc.kind, tc.object)
			}

			out, errOut, err := f.run("", append([]string{"create"}, tc.args...)...)
			if wantOut := tc.kind + "/" + tc.object + " created\n"; err != nil || out != wantOut {
				t.Fatalf("create: %q, %q, %v; want %q", out, errOut, err, wantOut)
			}
			got := f.stored(tc.kind, tc.ns, tc.object)
			if got == nil {
				t.Fatalf("no %s %s/%s stored", tc.kind, tc.ns, tc.object)
			}
			if msg := sameAsKubectl(got, want); msg != "" {
				t.Error(msg)
			}

			_, errOut, err = f.run("", append([]string{"create"}, tc.args...)...)
			resource := tc.kind + "s"
			wantErr := "error: failed to create " + tc.kind + " " + resource + ` "` + tc.object + `" already exists` + "\n"
			if tc.kind == "configmap" {
				wantErr = "error: failed to create configmap: configmaps \"" + tc.object + "\" already exists\n"
			}
			if err == nil || errOut != wantErr || exitCode(err) != 1 || !hasReason(err, api.StatusReasonAlreadyExists) {
				t.Errorf("second create: %q, %v (exit %d); want %q, exit 1", errOut, err, exitCode(err), wantErr)
			}
		})
	}
}

// stored returns the stored ConfigMap or Secret, or nil.
func (f *testServer) stored(kind, ns, name string) runtime.Object {
	switch kind {
	case "configmap":
		if cm, ok := f.store.State().ConfigMap(ns, name); ok {
			return cm.DeepCopy()
		}
	case "secret":
		if s, ok := f.store.State().Secret(ns, name); ok {
			return s.DeepCopy()
		}
	default:
		f.t.Fatalf("no kind %s", kind)
	}
	return nil
}

// sameAsKubectl compares a stored object with the one kubectl's code
// built, defaulted as the server defaults it (namespace, Opaque): name,
// namespace, annotations, type and data. It returns what differs, or "".
func sameAsKubectl(stored, built runtime.Object) string {
	switch got := stored.(type) {
	case *api.ConfigMap:
		want := built.(*api.ConfigMap).DeepCopy()
		api.SetConfigMapDefaults(want)
		if got.Name != want.Name || got.Namespace != want.Namespace || !reflect.DeepEqual(got.Data, nilIfEmpty(want.Data)) ||
			!reflect.DeepEqual(got.BinaryData, nilIfEmpty(want.BinaryData)) || got.Immutable != nil ||
			!reflect.DeepEqual(got.Annotations, nilIfEmpty(want.Annotations)) {
			return "stored configmap " + describeObj(got) + "\nkubectl builds " + describeObj(want)
		}
	case *api.Secret:
		want := built.(*api.Secret).DeepCopy()
		api.SetSecretDefaults(want)
		if got.Name != want.Name || got.Namespace != want.Namespace || got.Type != want.Type ||
			!reflect.DeepEqual(got.Data, nilIfEmpty(want.Data)) || got.Immutable != nil ||
			!reflect.DeepEqual(got.Annotations, nilIfEmpty(want.Annotations)) {
			return "stored secret " + describeObj(got) + "\nkubectl builds " + describeObj(want)
		}
	default:
		return "unexpected object"
	}
	return ""
}

func nilIfEmpty[M ~map[string]V, V any](m M) M {
	if len(m) == 0 {
		return nil
	}
	return m
}

func describeObj(o any) string {
	b, _ := json.Marshal(o)
	return string(b)
}

// TestCreateDockerConfigJSON: the .dockerconfigjson of docker-registry is
// the docker CLI's config, with auth = base64(username:password), the
// form kubelet reads.
func TestCreateDockerConfigJSON(t *testing.T) {
	f := newTestServer(t)
	out, errOut, err := f.run("", "create", "secret", "docker-registry", "reg", "--docker-server=localhost:5000",
		"--docker-username=alice", "--docker-password=pa:ss word", "--docker-email=a@example.com")
	if err != nil {
		t.Fatalf("create: %q, %q, %v", out, errOut, err)
	}
	s := f.stored("secret", "default", "reg").(*api.Secret)
	if s.Type != api.SecretTypeDockerConfigJSON {
		t.Errorf("type %q", s.Type)
	}
	want := `{"auths":{"localhost:5000":{"username":"alice","password":"pa:ss word","email":"a@example.com","auth":"` +
		base64.StdEncoding.EncodeToString([]byte("alice:pa:ss word")) + `"}}}`
	if got := string(s.Data[".dockerconfigjson"]); got != want {
		t.Errorf(".dockerconfigjson = %s\nwant %s", got, want)
	}
}

// TestCreateErrors: what create refuses, in kubectl's words, changing
// nothing.
func TestCreateErrors(t *testing.T) {
	dir := sourceFixtures(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	cert, _ := writeKeyPair(t, dir, "a")
	_, otherKey := writeKeyPair(t, dir, "b")
	_, tlsErr := tlsSecret("x", "", cert, otherKey)
	_, _, ktlsErr := kubectlSecretTLS("x", "", cert, otherKey, kubectlFlags{}, "")
	if tlsErr == nil || ktlsErr == nil || tlsErr.Error() != ktlsErr.Error() {
		t.Fatalf("a certificate with another's key: %v; kubectl: %v", tlsErr, ktlsErr)
	}
	_, _, kmissingErr := kubectlSecretTLS("x", "", p("none.crt"), otherKey, kubectlFlags{}, "")
	cases := []struct {
		args    []string
		wantErr string
		code    int
	}{
		{[]string{"deployment", "x"}, `error: unknown command "deployment" for "gossipod create"`, 2},
		{[]string{"secret", "opaque", "x"}, `error: unknown command "opaque" for "gossipod create secret"`, 2},
		{[]string{"configmap"}, "error: exactly one NAME is required, got 0", 2},
		{[]string{"configmap", "a", "b", "--from-literal=a=b"}, "error: exactly one NAME is required, got 2", 2},
		{[]string{"secret", "tls"}, "error: exactly one NAME is required, got 0", 2},
		{[]string{"configmap", "x", "--from-env-file=" + p("envs/second.env"), "--from-literal=a=b"},
			"error: from-env-file cannot be combined with from-file or from-literal", 2},
		{[]string{"configmap", "x", "--dry-run=maybe"}, `error: Invalid dry-run value (maybe). Must be "none", "server", or "client".`, 2},
		{[]string{"configmap", "x", "-o", "wide"}, `error: --output "wide": want one of json, yaml, name`, 2},
		{[]string{"configmap", "x", "--from-literal=a=b", "--from-literal=a=c"},
			`error: cannot add key "a", another key by that name already exists in Data for ConfigMap "x"`, 1},
		{[]string{"configmap", "x", "--from-file=" + p("missing")}, "error: error reading " + p("missing") + ": no such file or directory", 1},
		{[]string{"secret", "generic", "x", "--from-literal=a b=c"}, `error: "a b" is not valid key name for a Secret a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`, 1},
		{[]string{"secret", "docker-registry", "x", "--docker-username=u"},
			"error: either --from-file or the combination of --docker-username, --docker-password and --docker-server is required", 2},
		{[]string{"secret", "docker-registry", "x", "--docker-username=u", "--docker-password=p", "--docker-server="},
			"error: either --from-file or the combination of --docker-username, --docker-password and --docker-server is required", 2},
		{[]string{"secret", "tls", "x", "--cert=" + cert}, "error: key and cert must be specified", 2},
		{[]string{"secret", "tls", "x", "--cert=" + cert, "--key=" + otherKey}, "error: " + ktlsErr.Error(), 1},
		{[]string{"secret", "tls", "x", "--cert=" + p("none.crt"), "--key=" + otherKey}, "error: " + errString(kmissingErr), 1},
		// The server's refusals, as kubectl prints them.
		{[]string{"configmap", "Bad_Name", "--from-literal=a=b"},
			`error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`, 1},
		{[]string{"secret", "generic", "x", "--type=kubernetes.io/tls", "--from-literal=tls.crt=c"},
			`error: failed to create secret Secret "x" is invalid: data[tls.key]: Required value`, 1},
		{[]string{"configmap", "x", "-n", "nowhere", "--from-literal=a=b"},
			`error: failed to create configmap: namespaces "nowhere" not found`, 1},
		// gossipod's API cannot run a write without making it: a server
		// dry run is refused, and nothing is stored.
		{[]string{"configmap", "x", "--from-literal=a=b", "--dry-run=server"},
			"error: failed to create configmap: dryRun=All is not supported: gossipod cannot run a write without making the change", 1},
		{[]string{"secret", "generic", "x", "--from-literal=a=b", "--dry-run=server", "-o", "yaml"},
			"error: failed to create secret dryRun=All is not supported", 1},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := newTestServer(t)
			out, errOut, err := f.run("", append([]string{"create"}, tc.args...)...)
			if err == nil || !strings.HasPrefix(errOut, tc.wantErr) || exitCode(err) != tc.code || out != "" {
				t.Errorf("= %q, %q, %v (exit %d); want an error starting %q, exit %d", out, errOut, err, exitCode(err), tc.wantErr, tc.code)
			}
			cms, _ := f.store.State().ConfigMaps(func(*api.ConfigMap) bool { return true })
			secrets, _ := f.store.State().Secrets(func(*api.Secret) bool { return true })
			if len(cms)+len(secrets) > 0 {
				t.Errorf("stored %d configmaps and %d secrets", len(cms), len(secrets))
			}
		})
	}
}

// TestCreateOutput: -o name and -o yaml after a real create print the
// object as stored.
func TestCreateOutput(t *testing.T) {
	f := newTestServer(t)
	out, errOut, err := f.run("", "create", "configmap", "named", "--from-literal=a=b", "-o", "name")
	if err != nil || out != "configmap/named\n" {
		t.Fatalf("-o name: %q, %q, %v", out, errOut, err)
	}
	out, errOut, err = f.run("", "create", "secret", "generic", "shown", "--from-literal=a=b", "-o", "yaml")
	if err != nil {
		t.Fatalf("-o yaml: %q, %v", errOut, err)
	}
	stored := f.stored("secret", "default", "shown").(*api.Secret)
	for _, want := range []string{"kind: Secret\n", "  name: shown\n", "  namespace: default\n", "  uid: " + string(stored.UID) + "\n",
		"  a: " + base64.StdEncoding.EncodeToString([]byte("b")) + "\n", "type: Opaque\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-o yaml has no %q:\n%s", want, out)
		}
	}
}

// TestCreateDryRunBoolean: --dry-run=true, deprecated, is a client dry run
// with kubectl's warning; --dry-run=false creates.
func TestCreateDryRunBoolean(t *testing.T) {
	f := newTestServer(t)
	out, errOut, err := f.run("", "create", "configmap", "x", "--from-literal=a=b", "--dry-run=true")
	wantWarn := "Warning: --dry-run=true is deprecated (boolean value) and can be replaced with --dry-run=client.\n"
	if err != nil || out != "configmap/x created (dry run)\n" || errOut != wantWarn {
		t.Fatalf("--dry-run=true: %q, %q, %v", out, errOut, err)
	}
	if f.stored("configmap", "default", "x") != nil {
		t.Fatal("--dry-run=true stored the configmap")
	}
	out, _, err = f.run("", "create", "configmap", "x", "--from-literal=a=b", "--dry-run=false")
	if err != nil || out != "configmap/x created\n" || f.stored("configmap", "default", "x") == nil {
		t.Fatalf("--dry-run=false: %q, %v", out, err)
	}
}

// TestCreateThenGetAndDescribe: what create stored reads back through get
// and describe, a Secret's values never printed.
func TestCreateThenGetAndDescribe(t *testing.T) {
	f := newTestServer(t)
	if _, errOut, err := f.run("", "create", "secret", "generic", "db", "--from-literal=password=hunter2", "--from-literal=user=admin"); err != nil {
		t.Fatalf("create: %q, %v", errOut, err)
	}
	out, errOut, err := f.run("", "get", "secrets")
	if err != nil || !hasPrefixLine(out, "db ") || !strings.Contains(out, "Opaque") {
		t.Fatalf("get secrets: %q, %q, %v", out, errOut, err)
	}
	out, errOut, err = f.run("", "describe", "secret", "db")
	if err != nil || strings.Contains(out, "hunter2") || strings.Contains(out, "admin") || !strings.Contains(out, "password:  7 bytes") {
		t.Fatalf("describe secret: %q, %q, %v", out, errOut, err)
	}
}
