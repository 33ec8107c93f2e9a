package kubeconfig

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api/client"
)

// kubeconfigYAML is a kubeconfig with one cluster, user and context all
// named name, the context current when current is set.
func kubeconfigYAML(name, server, token string, current bool) string {
	s := `apiVersion: v1
kind: Config
clusters:
- name: ` + name + `
  cluster:
    server: ` + server + `
    certificate-authority-data: ` + b64("CA of "+name) + `
users:
- name: ` + name + `
  user:
    token: ` + token + `
contexts:
- name: ` + name + `
  context:
    cluster: ` + name + `
    user: ` + name + `
`
	if current {
		s += "current-context: " + name + "\n"
	}
	return s
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadPrecedence: --kubeconfig, else $KUBECONFIG (a merged list),
// else ~/.kube/config; --context, else the current context; --addr
// replaces only the server — kubectl's rules.
func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	homeFile := write(t, filepath.Join(home, ".kube", "config"), kubeconfigYAML("home", "https://home:7948", "home-token", true))
	a := write(t, filepath.Join(dir, "a.yaml"), kubeconfigYAML("a", "https://a:7948", "a-token", true))
	b := write(t, filepath.Join(dir, "b.yaml"), kubeconfigYAML("b", "https://b:7948", "b-token", true))
	// c redefines a's cluster, user and context: a file earlier in the
	// list wins every name, as clientcmd merges.
	c := write(t, filepath.Join(dir, "c.yaml"), kubeconfigYAML("a", "https://c:7948", "c-token", false))
	noCurrent := write(t, filepath.Join(dir, "nocurrent.yaml"), kubeconfigYAML("x", "https://x:7948", "x-token", false))
	missing := filepath.Join(dir, "missing.yaml")
	emptyHome := filepath.Join(dir, "empty-home")

	tests := []struct {
		name         string
		home         string
		env          string // KUBECONFIG; "-" = unset
		opts         Options
		wantServer   string
		wantToken    string
		wantSource   string // a substring of Source
		noKubeconfig bool   // Source is ""
		wantErr      string
	}{
		{name: "nothing anywhere", home: emptyHome, env: "-", noKubeconfig: true},
		{name: "nothing anywhere, --addr", home: emptyHome, env: "-", opts: Options{Server: "https://n:1"}, wantServer: "https://n:1", noKubeconfig: true},
		{name: "~/.kube/config", home: home, env: "-", wantServer: "https://home:7948", wantToken: "home-token", wantSource: homeFile},
		{name: "KUBECONFIG beats ~/.kube/config", home: home, env: a, wantServer: "https://a:7948", wantToken: "a-token", wantSource: a},
		{name: "--kubeconfig beats KUBECONFIG", home: home, env: a, opts: Options{Path: b}, wantServer: "https://b:7948", wantToken: "b-token", wantSource: b},
		{name: "merged list: first current-context", home: home, env: a + ":" + b, wantServer: "https://a:7948", wantToken: "a-token", wantSource: a},
		{name: "merged list: --context from the second file", home: home, env: a + ":" + b, opts: Options{Context: "b"}, wantServer: "https://b:7948", wantToken: "b-token", wantSource: b},
		{name: "merged list: the first file wins a name", home: home, env: c + ":" + a, opts: Options{Context: "a"}, wantServer: "https://c:7948", wantToken: "c-token", wantSource: c},
		{name: "merged list: current-context from a later file", home: home, env: c + ":" + b, wantServer: "https://b:7948", wantToken: "b-token"},
		{name: "missing files in KUBECONFIG are skipped", home: home, env: missing + ":" + b, wantServer: "https://b:7948", wantToken: "b-token"},
		{name: "KUBECONFIG of only missing files: no kubeconfig, not home", home: home, env: missing, noKubeconfig: true},
		{name: "--addr keeps CA and credentials", home: home, env: "-", opts: Options{Server: "https://other:7948"}, wantServer: "https://other:7948", wantToken: "home-token", wantSource: homeFile},
		{name: "missing --kubeconfig", home: home, env: "-", opts: Options{Path: missing}, wantErr: "missing.yaml"},
		{name: "unknown --context", home: home, env: a, opts: Options{Context: "nope"}, wantErr: `no context "nope" (there are: a)`},
		{name: "no current-context", home: home, env: noCurrent, wantErr: "has no current-context: choose one with --context (one of x)"},
		{name: "no current-context, --context", home: home, env: noCurrent, opts: Options{Context: "x"}, wantServer: "https://x:7948", wantToken: "x-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", tt.home)
			if tt.env == "-" {
				t.Setenv("KUBECONFIG", "")
				os.Unsetenv("KUBECONFIG")
			} else {
				t.Setenv("KUBECONFIG", tt.env)
			}
			cfg, err := Load(tt.opts)
			agreeWithClientcmd(t, tt.opts, cfg, err)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Server != tt.wantServer || cfg.BearerToken != tt.wantToken {
				t.Errorf("Load = server %q token %q, want %q %q", cfg.Server, cfg.BearerToken, tt.wantServer, tt.wantToken)
			}
			if tt.noKubeconfig && cfg.Source != "" {
				t.Errorf("Source = %q, want none", cfg.Source)
			}
			if !tt.noKubeconfig && (cfg.Source == "" || !strings.Contains(cfg.Source, tt.wantSource)) {
				t.Errorf("Source = %q, want one naming %q", cfg.Source, tt.wantSource)
			}
			if tt.wantToken != "" && !strings.HasPrefix(string(cfg.CAData), "CA of ") {
				t.Errorf("CAData = %q, want the cluster's", cfg.CAData)
			}
		})
	}
}

// TestLoadFiles: certificate and key paths in a kubeconfig are relative to
// the file, and a server over plain http gets no credentials (kubectl
// sends none); unsupported authentication is refused with a reason.
func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", "")
	path := write(t, filepath.Join(dir, "sub", "config"), `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://s:7948", certificate-authority: pki/ca.crt, tls-server-name: node-1}
users:
- name: u
  user: {client-certificate: pki/u.crt, client-key: pki/u.key, tokenFile: ../token}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
`)
	pki := filepath.Join(dir, "sub", "pki")
	for _, f := range []string{"ca.crt", "u.crt", "u.key"} {
		write(t, filepath.Join(pki, f), "x")
	}
	tokenFile := write(t, filepath.Join(dir, "token"), "tok")
	cfg, err := Load(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	agreeWithClientcmd(t, Options{Path: path}, cfg, err)
	want := client.Config{Server: "https://s:7948", CAFile: filepath.Join(pki, "ca.crt"), ServerName: "node-1",
		CertFile: filepath.Join(pki, "u.crt"), KeyFile: filepath.Join(pki, "u.key"), BearerTokenFile: tokenFile}
	if cfg.Server != want.Server || cfg.CAFile != want.CAFile || cfg.ServerName != want.ServerName ||
		cfg.CertFile != want.CertFile || cfg.KeyFile != want.KeyFile || cfg.BearerTokenFile != want.BearerTokenFile {
		t.Errorf("Load =\n %+v\nwant\n %+v", cfg, want)
	}
	if want := `kubeconfig "` + path + `", context "ctx"`; cfg.Source != want {
		t.Errorf("Source = %q, want %q", cfg.Source, want)
	}

	plain, err := Load(Options{Path: path, Server: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	agreeWithClientcmd(t, Options{Path: path, Server: "http://127.0.0.1:1"}, plain, err)
	if plain.HasCredentials() || plain.CAFile != "" {
		t.Errorf("over plain http: %+v, want no credentials and no TLS", plain)
	}

	for name, user := range map[string]string{
		"exec credential plugin": `{exec: {apiVersion: client.authentication.k8s.io/v1, command: get-token}}`,
		"auth-provider":          `{auth-provider: {name: oidc}}`,
		"basic authentication":   `{username: u, password: p}`,
	} {
		p := write(t, filepath.Join(dir, name), `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://s:7948"}}]
users: [{name: u, user: `+user+`}]
contexts: [{name: ctx, context: {cluster: c, user: u}}]
current-context: ctx
`)
		if _, err := Load(Options{Path: p}); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("%s: Load error = %v, want \"not supported\"", name, err)
		}
	}
}

// TestRenderLoad: what Render writes, Load reads back unchanged, and
// incomplete credentials are refused.
func TestRenderLoad(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	creds := Credentials{Server: "https://10.0.0.1:7948", CAPEM: []byte("ca pem"), CertPEM: []byte("cert pem"), KeyPEM: []byte("key pem"), Token: "tok"}
	out, err := Render(creds)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: gossipod", "name: admin", "current-context: gossipod", "certificate-authority-data: " + b64("ca pem")} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered kubeconfig lacks %q:\n%s", want, out)
		}
	}
	p := write(t, filepath.Join(t.TempDir(), "config"), string(out))
	cfg, err := Load(Options{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server != creds.Server || string(cfg.CAData) != "ca pem" || string(cfg.CertData) != "cert pem" ||
		string(cfg.KeyData) != "key pem" || cfg.BearerToken != "tok" {
		t.Errorf("Load(Render) = %+v", cfg)
	}

	for name, c := range map[string]Credentials{
		"no server":      {CAPEM: []byte("x"), Token: "t"},
		"no CA":          {Server: "https://s", Token: "t"},
		"no credentials": {Server: "https://s", CAPEM: []byte("x")},
		"no key":         {Server: "https://s", CAPEM: []byte("x"), CertPEM: []byte("c")},
	} {
		if _, err := Render(c); err == nil {
			t.Errorf("Render with %s succeeded", name)
		}
	}
}

// TestLoadEdges: the corners of the format, each as clientcmd reads it.
func TestLoadEdges(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		opts       Options
		wantErr    bool
	}{
		{name: "context's user missing: anonymous", yaml: `
clusters: [{name: c, cluster: {server: "https://s:1", certificate-authority-data: Q0E=}}]
contexts: [{name: x, context: {cluster: c, user: nobody}}]
current-context: x`},
		{name: "context's cluster missing", wantErr: true, yaml: `
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: nowhere, user: u}}]
current-context: x`},
		{name: "context's cluster missing, --addr", opts: Options{Server: "https://a:1"}, yaml: `
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: nowhere, user: u}}]
current-context: x`},
		{name: "cluster without server", wantErr: true, yaml: `
clusters: [{name: c, cluster: {certificate-authority-data: Q0E=}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x`},
		{name: "server without scheme: plain http, no credentials", yaml: `
clusters: [{name: c, cluster: {server: "s:7948"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x`},
		{name: "insecure", yaml: `
clusters: [{name: c, cluster: {server: "https://s:1", insecure-skip-tls-verify: true, tls-server-name: node-1}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x`},
		{name: "unknown fields are ignored", yaml: `
apiVersion: v1
kind: Config
preferences: {colors: true}
extensions: [{name: e, extension: {a: b}}]
clusters: [{name: c, cluster: {server: "https://s:1", extensions: []}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]
current-context: x`},
		{name: "an empty file", yaml: ``},
		{name: "not YAML", wantErr: true, yaml: `clusters: [`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.Path = write(t, filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")), tt.yaml)
			cfg, err := Load(opts)
			if (err != nil) != tt.wantErr {
				t.Errorf("Load = %+v, %v; want error %v", cfg, err, tt.wantErr)
			}
			agreeWithClientcmd(t, opts, cfg, err)
		})
	}
}
