package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client/kubeconfig"
	"github.com/gossipod/gossipod/consensus"
)

// tokenKubeconfig writes a kubeconfig that authenticates with bearer token and
// trusts the cluster CA, as a user handed an API token would write it.
func tokenKubeconfig(t *testing.T, c *Cluster, name, token string) string {
	t.Helper()
	b, err := kubeconfig.Render(kubeconfig.Credentials{Server: c.APIAddr(0), CAPEM: c.creds.ca.CertPEM(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// createToken runs `token create` as admin and returns the printed token.
func createToken(t *testing.T, c *Cluster, role string) string {
	t.Helper()
	res := c.RunOn(0, "token", "create", "--role", role, "--description", "e2e "+role)
	if err := res.Err(); err != nil {
		t.Fatalf("token create --role %s: %v", role, err)
	}
	token := strings.TrimSpace(res.Stdout)
	if id, _, ok := strings.Cut(token, "."); !ok || len(id) != 6 {
		t.Fatalf("token create printed %q, want <id>.<secret>", token)
	}
	return token
}

// rawRequest sends one request to host i with the given bearer token ("" for none),
// trusting only the cluster CA and presenting no client certificate, and returns the
// status code and the Status reason of an error answer.
func rawRequest(c *Cluster, i int, method, path, token string) (int, string, error) {
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: c.creds.ca.Pool()}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(method, c.APIAddr(i)+path, strings.NewReader("{}"))
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: tr}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var status struct {
		Kind   string `json:"kind"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(body, &status)
	return resp.StatusCode, status.Reason, nil
}

// TestAPIAuthentication: every request is authenticated and authorized by role, over
// HTTPS, through any agent: no credentials get 401, a view token reads but cannot apply,
// an edit token applies and execs but cannot cordon, the internal write path takes
// only agents, the state machine refuses an invalid object even from an agent, and a
// revoked token is refused on every agent within a second.
func TestAPIAuthentication(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3)})
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	t.Cleanup(c.CleanupPods)

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/v1/pods", http.StatusUnauthorized},
		{"GET", "/metrics", http.StatusUnauthorized},
		{"POST", "/v1/internal/apply", http.StatusUnauthorized},
		{"GET", "/healthz", http.StatusOK},
		{"GET", "/readyz", http.StatusOK},
	} {
		code, reason, err := rawRequest(c, 1, tc.method, tc.path, "")
		if err != nil || code != tc.want {
			t.Errorf("%s %s without credentials: %d %s (%v), want %d", tc.method, tc.path, code, reason, err, tc.want)
		}
	}

	view := createToken(t, c, "view")
	edit := createToken(t, c, "edit")
	viewCfg := tokenKubeconfig(t, c, "view", view)
	editCfg := tokenKubeconfig(t, c, "edit", edit)
	as := func(cfg string, i int, args ...string) Result {
		return Run(t, append([]string{"--kubeconfig", cfg, "--addr", c.APIAddr(i)}, args...)...)
	}
	manifest := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata: {name: authz}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    resources: {requests: {cpu: 10m, memory: 8Mi}}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	// view: reads work, writes are refused in Kubernetes' words.
	if res := as(viewCfg, 1, "get", "nodes"); res.Err() != nil {
		t.Errorf("view token: get nodes: %v", res.Err())
	}
	if code, _, err := rawRequest(c, 2, "GET", "/metrics", view); err != nil || code != http.StatusOK {
		t.Errorf("view token: GET /metrics = %d (%v), want 200", code, err)
	}
	res := as(viewCfg, 2, "apply", "-f", manifest)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "Forbidden") ||
		!strings.Contains(res.Stderr, `cannot create resource "pods" in API group "" in the namespace "default"`) {
		t.Errorf("view token: apply was not refused with 403 in Kubernetes' words:\n%s", res)
	}

	// edit: apply and exec work; cordon (a node write) does not.
	if res := as(editCfg, 1, "apply", "-f", manifest); res.Err() != nil {
		t.Fatalf("edit token: apply: %v", res.Err())
	}
	c.WaitPod(0, "authz", 60*time.Second, func(p Pod) error {
		if p.Status.Phase != "Running" {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	if res := as(editCfg, 2, "exec", "authz", "--", "echo", "hello"); res.Err() != nil || strings.TrimSpace(res.Stdout) != "hello" {
		t.Errorf("edit token: exec through another agent: %s", res)
	}
	res = as(editCfg, 0, "cordon", c.Name(1))
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "Forbidden") || !strings.Contains(res.Stderr, `cannot patch resource "nodes"`) {
		t.Errorf("edit token: cordon was not refused with 403:\n%s", res)
	}

	// The internal write path: neither a user token nor the admin certificate.
	if code, _, err := rawRequest(c, 0, "POST", "/v1/internal/apply", edit); err != nil || code != http.StatusForbidden {
		t.Errorf("edit token on the internal write path: %d (%v), want 403", code, err)
	}
	resp, err := c.client.Post(c.APIAddr(0)+"/v1/internal/apply", "application/json", strings.NewReader(`{"type":"CreatePod","payload":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("admin certificate on the internal write path: %s, want 403", resp.Status)
	}

	// An agent's own certificate passes the internal write path, and still the state
	// machine refuses what the API would have: a pod whose uid is a path out of the data
	// dir, or whose volume name is one.
	peers, err := c.RaftPeers(0)
	if err != nil {
		t.Fatal(err)
	}
	leader := -1
	for _, p := range peers {
		if p.Leader {
			leader = c.Index(p.ID)
		}
	}
	agentCert, err := c.creds.ca.IssueAgent(c.Name(0), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	asAgent := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil,
		TLSClientConfig: &tls.Config{RootCAs: c.creds.ca.Pool(), Certificates: []tls.Certificate{agentCert.TLS}}}}
	defer asAgent.CloseIdleConnections()
	for _, tc := range []struct{ name, uid, volume, field string }{
		{"a uid that climbs out of the data dir", "../../etc", "data", "metadata.uid"},
		{"a volume name that is a path", "0c3f7a52-93c4-4c1e-a1f4-9e1f2d3c4b5a", "../../../etc", "spec.volumes[0].name"},
	} {
		pod := api.Pod{ObjectMeta: api.ObjectMeta{Name: "crafted", Namespace: "default", UID: types.UID(tc.uid)},
			Spec: api.PodSpec{
				Volumes:    []api.Volume{{Name: tc.volume, VolumeSource: api.VolumeSource{EmptyDir: &api.EmptyDirVolumeSource{}}}},
				Containers: []api.Container{{Name: "c", Image: "localhost/busybox:latest"}}}}
		api.SetPodDefaults(&pod)
		cmd, err := consensus.NewCommand(consensus.CmdCreatePod, consensus.CreatePod{Pod: pod})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(cmd)
		resp, err := asAgent.Post(c.APIAddr(leader)+"/v1/internal/apply", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(answer), tc.field) {
			t.Errorf("raw CreatePod with %s, as an agent: %s %s, want 422 naming %s", tc.name, resp.Status, answer, tc.field)
		}
	}
	if _, err := c.Pod(0, "crafted"); err == nil {
		t.Error("the crafted pod is in the cluster state")
	}

	// Revocation reaches every agent at once: it is a Raft commit.
	id, _, _ := strings.Cut(edit, ".")
	if res := c.RunOn(0, "token", "revoke", id); res.Err() != nil {
		t.Fatalf("token revoke: %v", res.Err())
	}
	revoked := time.Now()
	for i := range c.N() {
		for {
			code, reason, err := rawRequest(c, i, "GET", "/api/v1/pods", edit)
			if err == nil && code == http.StatusUnauthorized && reason == "Unauthorized" {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("%s still answers the revoked token with %d %s (%v) a second after revoke", c.Name(i), code, reason, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("revoked token refused on all %d agents %v after revoke returned", c.N(), time.Since(revoked).Round(time.Millisecond))
	if res := as(editCfg, 1, "get", "pods"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "Unauthorized") {
		t.Errorf("revoked token: get pods was not refused with 401:\n%s", res)
	}
}
