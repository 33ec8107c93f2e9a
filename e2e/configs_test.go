package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretMarker is the Secret value the test looks for on the nodes' disks.
const secretMarker = "s3cr3t-plaintext-7f1d9a2c"

// appConfig is the ConfigMap app-config at a version: greeting and mode
// change together, so a reader of both can tell a mixed set.
func appConfig(greeting, mode string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  greeting: %s
  mode: %s
`, greeting, mode)
}

// configPod reads app-config through env (valueFrom), envFrom and a volume,
// and db-creds through envFrom (with a prefix) and a secret volume; tools
// (the incluster program) comes from the hostPath dir. Its container reads
// both config files through ..data in a loop into /tmp/pairs, one "greeting
// mode" line per read, until /tmp/stop exists.
func configPod(dir string) string {
	reader := `while [ ! -f /tmp/stop ]; do (cd /etc/config/..data 2>/dev/null && echo "$(cat greeting) $(cat mode)") >> /tmp/pairs; usleep 20000; done; sleep 3600`
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: config
    configMap: {name: app-config}
  - name: creds
    secret: {secretName: db-creds, defaultMode: 0400}
  - name: tools
    hostPath: {path: %s, type: Directory}
  containers:
  - name: app
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", %q]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: app-config, key: greeting}
    - name: MY_NODE
      valueFrom:
        fieldRef: {fieldPath: spec.nodeName}
    envFrom:
    - configMapRef: {name: app-config}
    - prefix: DB_
      secretRef: {name: db-creds}
    volumeMounts:
    - {name: config, mountPath: /etc/config}
    - {name: creds, mountPath: /etc/creds, readOnly: true}
    - {name: tools, mountPath: /opt/tools, readOnly: true}
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`, dir, reader)
}

// TestConfigMapsSecretsAndServiceAccountTokens drives issue 13's must-show
// through real kubectl on 3 hosts:
//   - a pod reads a ConfigMap through env, envFrom and a volume, and a
//     Secret through envFrom and a volume; after `kubectl apply` of a changed
//     ConfigMap the mounted files change within 10 s, a reader of both files
//     never sees a mixed set, and the environment stays as it was;
//   - the Secret's value is on no node's disk outside tmpfs (the data dirs,
//     Raft log and snapshots included), while the pod's secret volume has it;
//   - a client-go program in the pod, with the in-cluster configuration
//     (the kubernetes Service, the mounted ServiceAccount token and CA), is
//     refused pods until a RoleBinding grants its ServiceAccount view, then
//     lists them, and is still refused a write; its token stops working
//     once the pod is gone;
//   - a bad config key, a ConfigMap over 1 MiB and a change of an immutable
//     ConfigMap are each refused with a 422 naming the field.
func TestConfigMapsSecretsAndServiceAccountTokens(t *testing.T) {
	dir := buildTool(t, "incluster")
	c := appCluster(t, "--allowed-host-paths", dir)
	c.PrivilegedNamespace(0, "default") // hostPath volumes
	c.kubectlApply(appConfig("hello", "prod") + `---
apiVersion: v1
kind: Secret
metadata:
  name: db-creds
stringData:
  password: ` + secretMarker + "\n")
	c.kubectlApply(configPod(dir))
	pod := c.runningPod("reader")

	// Env and files as the pod starts.
	res := c.execIn(pod, "app", "sh", "-c", `echo "$GREETING|$greeting|$mode|$DB_password|$MY_NODE"; cat /etc/config/greeting /etc/creds/password; stat -c %a /etc/creds/..data/password`)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	// The files end without a newline, as their values do.
	want := fmt.Sprintf("hello|hello|prod|%s|%s\nhello%s400\n", secretMarker, pod.Spec.NodeName, secretMarker)
	if res.Stdout != want {
		t.Fatalf("env and files in the pod:\n%q\nwant\n%q", res.Stdout, want)
	}

	// A changed ConfigMap reaches the volume within 10 s, not the env.
	start := time.Now()
	c.kubectlApply(appConfig("bonjour", "staging"))
	Eventually(t, 10*time.Second, func() error {
		res := c.execIn(pod, "app", "cat", "/etc/config/greeting", "/etc/config/mode")
		if res.Stdout != "bonjourstaging" {
			return fmt.Errorf("config files read %q, want the new version", res.Stdout)
		}
		return nil
	})
	t.Logf("the changed ConfigMap reached the pod's volume %v after kubectl apply", time.Since(start).Round(time.Millisecond))
	if res := c.execIn(pod, "app", "sh", "-c", `echo "$GREETING $greeting $mode"`); res.Stdout != "hello hello prod\n" {
		t.Errorf("env after the change: %q (%v), want it unchanged as in Kubernetes", res.Stdout, res.Err())
	}
	if res := c.execIn(pod, "app", "sh", "-c", "touch /tmp/stop; sleep 0.2; cat /tmp/pairs"); res.Err() != nil {
		t.Fatal(res.Err())
	} else {
		counts := map[string]int{}
		for line := range strings.Lines(res.Stdout) {
			counts[strings.TrimSpace(line)]++
		}
		if counts["hello prod"] == 0 || counts["bonjour staging"] == 0 {
			t.Errorf("the reader saw %v, want both versions", counts)
		}
		// A read cut short (the old version's directory removed under the
		// reader) has an empty half; a mixed set has two halves that do not
		// belong together.
		for pair, n := range counts {
			greeting, mode, _ := strings.Cut(pair, " ")
			if greeting != "" && mode != "" && pair != "hello prod" && pair != "bonjour staging" {
				t.Errorf("the reader saw a mixed set %q %d times: the update was not atomic", pair, n)
			}
		}
		t.Logf("reads of the config volume through ..data: %v", counts)
	}

	// The Secret's value: in the pod's tmpfs, on no disk.
	checkSecretOnlyOnTmpfs(t, c, secretMarker)

	// The ServiceAccount token, as client-go's in-cluster configuration
	// reads it.
	res = c.execIn(pod, "app", "sh", "-c", "cd /var/run/secrets/kubernetes.io/serviceaccount && cat namespace && echo && cat ca.crt && cat token")
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	ns, rest, _ := strings.Cut(res.Stdout, "\n")
	caPEM := string(c.creds.ca.CertPEM())
	token, isCA := strings.CutPrefix(rest, caPEM)
	if ns != "default" || !isCA || strings.Count(token, ".") != 2 {
		t.Fatalf("serviceaccount dir: namespace %q, ca.crt is the cluster CA: %v, token %.20q…", ns, isCA, token)
	}

	incluster := func() string {
		t.Helper()
		res := c.execIn(pod, "app", "/opt/tools/incluster")
		if err := res.Err(); err != nil {
			t.Fatalf("incluster: %v", err)
		}
		return res.Stdout
	}
	out := incluster()
	t.Logf("in-cluster client without a role:\n%s", out)
	if !strings.Contains(out, `list: error Forbidden: pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods"`) {
		t.Fatalf("in-cluster client without a role: %s", out)
	}
	if r := c.Kubectl("create", "rolebinding", "reader-view", "--clusterrole=view", "--serviceaccount=default:default"); r.Err() != nil {
		t.Fatal(r.Err())
	}
	Eventually(t, 10*time.Second, func() error {
		out = incluster()
		if !strings.Contains(out, "list: ok ") || !strings.Contains(out, "reader") {
			return fmt.Errorf("in-cluster client with view: %s", out)
		}
		return nil
	})
	t.Logf("in-cluster client with view:\n%s", out)
	if !strings.Contains(out, `create: error Forbidden: configmaps is forbidden: User "system:serviceaccount:default:default" cannot create resource "configmaps"`) {
		t.Errorf("a write view does not grant: %s", out)
	}

	// kubectl create token: a token of the same ServiceAccount, now with
	// view.
	if r := c.Kubectl("create", "token", "default", "--duration=15m"); r.Err() != nil || strings.Count(r.Stdout, ".") != 2 {
		t.Errorf("kubectl create token: %v: %q", r.Err(), r.Stdout)
	} else {
		// Through host 1, which may apply the RoleBinding after the agent
		// the in-cluster client reached.
		Eventually(t, 10*time.Second, func() error {
			if s := apiStatus(t, c, strings.TrimSpace(r.Stdout)); s != http.StatusOK {
				return fmt.Errorf("a token from kubectl create token, listing pods: %d, want 200", s)
			}
			return nil
		})
	}

	// The token is the pod's: it works from anywhere while the pod exists
	// and stops when the pod is gone.
	status := func() int { return apiStatus(t, c, strings.TrimSpace(token)) }
	Eventually(t, 10*time.Second, func() error {
		if s := status(); s != http.StatusOK {
			return fmt.Errorf("the pod's token from outside, pod running: %d, want 200", s)
		}
		return nil
	})
	c.DeletePod(0, "reader")
	Eventually(t, 30*time.Second, func() error {
		if s := status(); s != http.StatusUnauthorized {
			return fmt.Errorf("the pod's token after the pod was deleted: %d, want 401", s)
		}
		return nil
	})

	// Refusals, each a 422 naming the field.
	big := strings.Repeat("x", 1<<20)
	for _, tt := range []struct{ name, manifest, want string }{
		{"bad key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad-key}\ndata: {\"bad key!\": v}\n",
			`The ConfigMap "bad-key" is invalid: data[bad key!]: Invalid value: "bad key!": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`},
		{"over 1 MiB", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: too-big}\ndata: {a: " + big + ", b: c}\n",
			`[]: Too long: may not be more than 1048576 bytes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.kubectlApplyResult(tt.manifest)
			if r.Err() == nil || !strings.Contains(r.Stderr, tt.want) {
				t.Fatalf("kubectl apply: %v\n%s\nwant %q", r.Err(), r.Stderr, tt.want)
			}
		})
	}
	t.Run("immutable", func(t *testing.T) {
		c.kubectlApply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: one}\n")
		r := c.kubectlApplyResult("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: two}\n")
		want := `The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when ` + "`immutable`" + ` is set`
		if r.Err() == nil || !strings.Contains(r.Stderr, want) {
			t.Fatalf("kubectl apply of a changed immutable ConfigMap: %v\n%s\nwant %q", r.Err(), r.Stderr, want)
		}
	})
}

// checkSecretOnlyOnTmpfs greps every host's data dir for value and its
// base64, skipping what is mounted as tmpfs: it must be found only there (and
// found there, so the search is not vacuous).
func checkSecretOnlyOnTmpfs(t *testing.T, c *Cluster, value string) {
	t.Helper()
	tmpfs, err := tmpfsMounts()
	if err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte(value), []byte(base64.StdEncoding.EncodeToString([]byte(value)))}
	onTmpfs, files := 0, 0
	for i := range c.N() {
		root := c.DataDir(i)
		// Only tmpfs mounts inside the data dir count: if the data dir
		// itself were on a tmpfs, the search would prove nothing.
		var inside []string
		for _, m := range tmpfs {
			if strings.HasPrefix(m, root+"/") {
				inside = append(inside, m)
			}
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // removed while walking (a pod's files)
				}
				return err
			}
			inTmpfs := false
			for _, m := range inside {
				if path == m || strings.HasPrefix(path, m+"/") {
					inTmpfs = true
				}
			}
			if !d.Type().IsRegular() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			files++
			for _, n := range needles {
				if bytes.Contains(b, n) {
					if !inTmpfs {
						t.Errorf("the Secret's value (%q) is on disk in %s", n, path)
					} else {
						onTmpfs++
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if onTmpfs == 0 {
		t.Errorf("the Secret's value was not found even on the pod's tmpfs: the search of %d files cannot be trusted", files)
	}
	t.Logf("searched %d files of the data dirs: the Secret's value is only in %d files on tmpfs", files, onTmpfs)
}

// tmpfsMounts lists the mount points of tmpfs file systems.
func tmpfsMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "tmpfs" && len(fields) > 4 {
				out = append(out, fields[4])
			}
		}
	}
	return out, sc.Err()
}

// apiStatus is the status code of a list of the default namespace's pods,
// on host 1's API, with token as the bearer.
func apiStatus(t *testing.T, c *Cluster, token string) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: c.creds.ca.Pool()}}}
	req, err := http.NewRequest("GET", c.APIAddr(1)+"/api/v1/namespaces/default/pods", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
