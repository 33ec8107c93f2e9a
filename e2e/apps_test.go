package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests of this file show issue 12's "Must show" list with applications
// as users write them: Deployments behind Services, found by DNS name from
// other pods, under steady traffic while pods are deleted, not ready, or
// rolled. Everything is driven with real kubectl.

// appCluster starts 3 hosts with the test image loaded on each, and registers
// the deletion of every Deployment and pod at the end. extra arguments are
// given to every agent.
func appCluster(t *testing.T, extra ...string) *Cluster {
	t.Helper()
	bootstrap := BootstrapExpect(3, 0, 1, 2)
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: func(c *Cluster, i int) []string {
		return append(bootstrap(c, i), extra...)
	}})
	c.CleanupPods()
	c.CleanupDeployments()
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	return c
}

// kubectlApply runs `kubectl apply -f` with manifest (one or more
// documents), and fails the test if kubectl fails.
func (c *Cluster) kubectlApply(manifest string) {
	c.t.Helper()
	if res := c.kubectlApplyResult(manifest); res.Err() != nil {
		c.t.Fatalf("kubectl apply:\n%s\n%v", manifest, res.Err())
	}
}

// kubectlApplyResult runs `kubectl apply -f` with manifest and returns
// what kubectl did, for a test that expects a refusal.
func (c *Cluster) kubectlApplyResult(manifest string) Result {
	c.t.Helper()
	f, err := os.CreateTemp(c.t.TempDir(), "app-*.yaml")
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := f.WriteString(manifest); err != nil {
		c.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		c.t.Fatal(err)
	}
	return c.Kubectl("apply", "-f", f.Name())
}

// serveHostname is the command of a container that serves its pod's host
// name (the pod's name) over HTTP on port 8080. busybox httpd, as PID 1,
// ignores SIGTERM: a deleted pod keeps serving until its grace period ends,
// as a server that drains on SIGTERM would.
const serveHostname = `mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www`

// appDeployment is a Deployment of name whose pods serve their name on 8080,
// with VERSION in their environment (changing it rolls the pods), a readiness
// probe on the served page (so a pod is Ready once it serves), a rolling
// update that never goes below the wanted replicas (maxUnavailable 0,
// maxSurge 1) and 3 s of grace.
func appDeployment(name string, replicas int, version string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  selector:
    matchLabels:
      app: %[1]s
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      terminationGracePeriodSeconds: 3
      containers:
      - name: httpd
        image: localhost/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", %[4]q]
        env:
        - name: VERSION
          value: %[3]q
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          exec:
            command: ["test", "-s", "/www/index.html"]
          periodSeconds: 1
        resources:
          requests: {cpu: 10m, memory: 16Mi}
`, name, replicas, version, serveHostname)
}

// httpService is a ClusterIP Service name on port 80 over the pods labelled
// app=name, to their port named http.
func httpService(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector:
    app: %[1]s
  ports:
  - name: http
    port: 80
    targetPort: http
`, name)
}

// fetchTimeout is how long one request of fetchLoop may take (its
// "timeout 3") before it is logged as failed.
const fetchTimeout = 3 * time.Second

// fetchLoop is a shell command running workers loops that each fetch
// http://target/ by name, through the pod's resolver, and pause 50 ms, and
// append one line per request to /tmp/log: "<worker>.<n> <body>", the body
// being the serving pod's name, or "<worker>.<n> FAIL" when nothing came
// back within 3 s. (One busybox loop, a name lookup and 3 processes per
// request, manages 3 to 7 requests a second on a loaded 2-core machine; 5
// workers made 11 to 17 in the tests' runs.) When gated, the loops start only once /tmp/go exists;
// they stop when /tmp/stop exists, and then /tmp/done is created.
func fetchLoop(target string, gated bool, workers int) string {
	gate := ""
	if gated {
		gate = `while [ ! -f /tmp/go ]; do usleep 100000; done; `
	}
	return `nl='
'; worker() { n=0; while [ ! -f /tmp/stop ]; do n=$((n+1)); ` +
		`r=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 3 nc -w 1 ` + target + ` 80 2>/dev/null); r=${r##*$nl}; ` +
		`echo "$1.$n ${r:-FAIL}" >> /tmp/log; usleep 50000; done; }; ` + gate +
		fmt.Sprintf(`for w in $(seq %d); do worker $w & done; wait; touch /tmp/done; exec sleep 3600`, workers)
}

// clientPod is a pod called name whose only container, client, runs
// fetchLoop(target, true, 5): the test starts and stops its requests.
func clientPod(name, target string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", %q]
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`, name, fetchLoop(target, true, 5))
}

// requestLog is a fetchLoop's log, judged against the pods that may serve.
type requestLog struct {
	lines  []string       // every request, in order
	served map[string]int // requests answered, by serving pod
	failed []string       // the lines of requests that got no pod's answer
}

// parseRequestLog reads a fetchLoop log; a request counts as served only
// when its body is one of the names in pods.
func parseRequestLog(out string, pods []string) requestLog {
	l := requestLog{served: map[string]int{}}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		l.lines = append(l.lines, line)
		_, body, _ := strings.Cut(line, " ")
		if slices.Contains(pods, body) {
			l.served[body]++
		} else {
			l.failed = append(l.failed, line)
		}
	}
	return l
}

// execIn runs argv in container ctr of pod, through the API of the pod's own
// host (any host would do; this keeps the exec local).
func (c *Cluster) execIn(p Pod, ctr string, argv ...string) Result {
	c.t.Helper()
	i := max(c.Index(p.Spec.NodeName), 0)
	return c.RunOn(i, append([]string{"exec", p.Metadata.Name, "-c", ctr, "--"}, argv...)...)
}

// readLog returns the client's /tmp/log so far.
func (c *Cluster) readLog(p Pod, ctr string) (string, error) {
	res := c.execIn(p, ctr, "sh", "-c", "cat /tmp/log 2>/dev/null; true")
	return res.Stdout, res.Err()
}

// stopClient stops a client's fetchLoop, waits until it has finished its
// last request, and returns its log.
func (c *Cluster) stopClient(p Pod, ctr string) string {
	c.t.Helper()
	if res := c.execIn(p, ctr, "touch", "/tmp/stop"); res.Err() != nil {
		c.t.Fatal(res.Err())
	}
	Eventually(c.t, 10*time.Second, func() error {
		return c.execIn(p, ctr, "test", "-f", "/tmp/done").Err()
	})
	out, err := c.readLog(p, ctr)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// waitRequests waits until the client's log holds at least n requests
// beyond from, and returns the log.
func (c *Cluster) waitRequests(p Pod, ctr string, from, n int, timeout time.Duration) string {
	c.t.Helper()
	var out string
	Eventually(c.t, timeout, func() error {
		var err error
		if out, err = c.readLog(p, ctr); err != nil {
			return err
		}
		if got := strings.Count(out, "\n"); got < from+n {
			return fmt.Errorf("%d requests logged by %s, want %d", got, p.Metadata.Name, from+n)
		}
		return nil
	})
	return out
}

// podNames returns the names of a Deployment's pods.
func podNames(pods []DeploymentPod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Metadata.Name)
	}
	return names
}

// runningPod waits until pod name runs, anywhere, and returns it.
func (c *Cluster) runningPod(name string) Pod {
	c.t.Helper()
	return c.WaitPod(0, name, scheduleTimeout+runTimeout, Pod.Running)
}

// TestTwoTierAppByDNS shows a two-tier application across hosts: a db
// Deployment of 2 behind the ClusterIP Service db, and a web Deployment of 3
// whose pods fetch http://db/ by its short name (the cluster search path
// makes it db.default.svc.cluster.local); every web pod is served by both db
// pods over time, some of them on another host than the web pod.
func TestTwoTierAppByDNS(t *testing.T) {
	c := appCluster(t)
	c.kubectlApply(appDeployment("db", 2, "v1") + "---\n" + httpService("db"))
	db := c.WaitSettled(0, "db", 2, "", settleTimeout)
	dbNames := podNames(db)
	c.kubectlApply(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: localhost/busybox:latest
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", %q]
        resources:
          requests: {cpu: 10m, memory: 16Mi}
`, fetchLoop("db", false, 1)))
	web := c.WaitSettled(0, "web", 3, "", settleTimeout)
	nodeOf := map[string]string{}
	for _, p := range slices.Concat(db, web) {
		nodeOf[p.Metadata.Name] = p.Spec.NodeName
	}
	t.Logf("pods and their nodes: %v", nodeOf)

	crossHost := 0
	for _, w := range web {
		var p Pod
		p.Metadata.Name, p.Spec.NodeName = w.Metadata.Name, w.Spec.NodeName
		var l requestLog
		// Random choice between 2 pods: 40 requests miss one with p < 1e-11.
		Eventually(t, 2*probeTimeout, func() error {
			out, err := c.readLog(p, "web")
			if err != nil {
				return err
			}
			l = parseRequestLog(out, dbNames)
			for _, d := range dbNames {
				if l.served[d] == 0 {
					return fmt.Errorf("web pod %s: %d requests to http://db/, served by %v, none by %s; failed: %q",
						w.Metadata.Name, len(l.lines), l.served, d, l.failed)
				}
			}
			if len(l.lines) < 40 {
				return fmt.Errorf("web pod %s: only %d requests so far", w.Metadata.Name, len(l.lines))
			}
			return nil
		})
		for _, d := range dbNames {
			if nodeOf[d] != w.Spec.NodeName {
				crossHost += l.served[d]
			}
		}
		// Failures are possible only before the web pod's first answer (its
		// node's DNS and rules may trail the pod by a moment), never after.
		first := slices.IndexFunc(l.lines, func(s string) bool { _, b, _ := strings.Cut(s, " "); return slices.Contains(dbNames, b) })
		var late []string
		for _, f := range l.failed {
			if slices.Index(l.lines, f) > first {
				late = append(late, f)
			}
		}
		if len(late) > 0 {
			t.Errorf("web pod %s: requests failed after db had answered: %q", w.Metadata.Name, late)
		}
		t.Logf("web pod %s on %s: %d requests to http://db/, served by %v, %d failed before the first answer",
			w.Metadata.Name, w.Spec.NodeName, len(l.lines), l.served, len(l.failed)-len(late))
	}
	if crossHost == 0 {
		t.Errorf("no web pod was served by a db pod on another host (placement %v)", nodeOf)
	}
}

// TestServiceFailover deletes one of a Service's two pods while a client
// sends ~20 requests a second to the Service by name: the pod's endpoint goes
// as soon as the pod is marked for deletion, while it still serves out its
// grace period, so at most failoverBound requests fail; once it is gone, no
// request reaches it and no host's service rules still name its address; its
// replacement takes traffic once Ready.
func TestServiceFailover(t *testing.T) {
	// Measured on 2 cores under -race: see the log line "failover: ...".
	const failoverBound = 3
	c := appCluster(t)
	c.kubectlApply(appDeployment("db", 2, "v1") + "---\n" + httpService("db"))
	c.MustApply(0, clientPod("client", "db"))
	db := c.WaitSettled(0, "db", 2, "", settleTimeout)
	client := c.runningPod("client")
	if res := c.execIn(client, "client", "touch", "/tmp/go"); res.Err() != nil {
		t.Fatal(res.Err())
	}
	goAt := time.Now()
	// Steady state first: both pods serve, for 60 requests at least.
	Eventually(t, 2*probeTimeout, func() error {
		out, err := c.readLog(client, "client")
		if err != nil {
			return err
		}
		if l := parseRequestLog(out, podNames(db)); len(l.served) < 2 || len(l.lines) < 60 {
			return fmt.Errorf("%d requests, served by %v", len(l.lines), l.served)
		}
		return nil
	})

	victim := db[0]
	var victimPod Pod
	Eventually(t, probeTimeout, func() error {
		var err error
		victimPod, err = c.Pod(0, victim.Metadata.Name)
		return err
	})
	// The victim's address is in the service rules now, so that its absence
	// later means something.
	victimIP := regexp.MustCompile(`\b` + regexp.QuoteMeta(victimPod.Status.PodIP) + `\b`)
	proxyRules := func(i int) (string, error) {
		res := c.Exec(i, 10*time.Second, "nft", "list", "table", "ip", "gossipod-proxy")
		return res.Stdout, res.Err()
	}
	if rules, err := proxyRules(0); err != nil || !victimIP.MatchString(rules) {
		t.Fatalf("%s's service rules do not name %s's address %s before its deletion (%v):\n%s",
			c.Name(0), victim.Metadata.Name, victimPod.Status.PodIP, err, rules)
	}
	start := time.Now()
	if res := c.Kubectl("delete", "pod", victim.Metadata.Name, "--wait=true", "--timeout=60s"); res.Err() != nil {
		t.Fatalf("kubectl delete pod %s: %v", victim.Metadata.Name, res.Err())
	}
	goneAfter := time.Since(start)
	out, err := c.readLog(client, "client")
	if err != nil {
		t.Fatal(err)
	}
	gone := strings.Count(out, "\n") // requests sent before the pod was seen gone
	after := c.WaitSettled(0, "db", 2, "", settleTimeout)
	names := slices.Concat(podNames(db), podNames(after))
	// A few hundred requests in all, the last 150 after the replacement is
	// Ready.
	if out, err = c.readLog(client, "client"); err != nil {
		t.Fatal(err)
	}
	settledAt := strings.Count(out, "\n")
	c.waitRequests(client, "client", settledAt, 150, 60*time.Second)
	l := parseRequestLog(c.stopClient(client, "client"), names)
	took := time.Since(goAt)
	window := parseRequestLog(strings.Join(l.lines[settledAt:], "\n"), names)

	t.Logf("failover: %d requests in all, %d failed (bound %d), served by %v; pod gone from the API %v after delete, %d requests before that",
		len(l.lines), len(l.failed), failoverBound, l.served, goneAfter.Round(time.Millisecond), gone)
	t.Logf("failover: %.1f requests/s", float64(len(l.lines))/took.Seconds())
	if len(l.failed) > failoverBound {
		t.Errorf("%d of %d requests failed across the deletion of %s, want at most %d: %q",
			len(l.failed), len(l.lines), victim.Metadata.Name, failoverBound, l.failed)
	}
	for _, line := range l.lines[gone:] {
		if strings.HasSuffix(line, " "+victim.Metadata.Name) {
			t.Errorf("request %q served by %s after it was gone", line, victim.Metadata.Name)
		}
	}
	replacement := ""
	for _, n := range podNames(after) {
		if !slices.Contains(podNames(db), n) {
			replacement = n
		}
	}
	// Once Ready, the replacement takes its share: half, by random choice
	// between 2; under 20%% of 150 has a probability below 1e-13.
	t.Logf("failover: the last %d requests, after the replacement %s was Ready, served by %v", len(window.lines), replacement, window.served)
	if replacement == "" || window.served[replacement]*5 < len(window.lines) {
		rules, _ := proxyRules(max(c.Index(client.Spec.NodeName), 0))
		t.Errorf("the replacement pod %q (Ready) served %d of the last %d requests, want about half: %v; the client's node's service rules:\n%s",
			replacement, window.served[replacement], len(window.lines), window.served, rules)
	}
	// Nothing stale: no host's service rules still send to the gone pod.
	for i := range c.N() {
		Eventually(t, probeTimeout, func() error {
			rules, err := proxyRules(i)
			if err != nil {
				return err
			}
			if victimIP.MatchString(rules) {
				return fmt.Errorf("%s's service rules still name %s's address %s:\n%s", c.Name(i), victim.Metadata.Name, victimPod.Status.PodIP, rules)
			}
			return nil
		})
	}
}

// TestServiceFailoverHostCut cuts off the host of one of a Service's two
// pods (a follower, its agent still running) while a client on another host
// sends requests to the Service by name. Requests to the cut-off pod fail
// until the leader has marked its pods lost and every host's rules have
// dropped its address; from then on requests succeed (all of them on an idle
// machine, at least 95 % under load), served by the other pod, and after the
// heal nothing serves from the stale pod.
func TestServiceFailoverHostCut(t *testing.T) {
	c := appCluster(t)
	leader := c.Index(waitFormed(t, c, 3, 0))
	// kubectl and the client are on host 0; the victim is a follower other
	// than host 0, and the other db pod runs on the remaining host.
	victim := 1
	if leader == 1 {
		victim = 2
	}
	other := 3 - victim
	c.kubectlApply(pinnedDBPod("db-cut", c.Name(victim)) + "---\n" + pinnedDBPod("db-stay", c.Name(other)) + "---\n" + httpService("db"))
	c.MustApply(0, strings.Replace(clientPod("client", "db"), "spec:\n", "spec:\n  nodeName: "+c.Name(0)+"\n", 1))
	cutPod := c.WaitPod(0, "db-cut", scheduleTimeout+runTimeout, Pod.Running)
	c.WaitPod(0, "db-stay", scheduleTimeout+runTimeout, Pod.Running)
	client := c.runningPod("client")
	names := []string{"db-cut", "db-stay"}
	if res := c.execIn(client, "client", "touch", "/tmp/go"); res.Err() != nil {
		t.Fatal(res.Err())
	}
	Eventually(t, 2*probeTimeout, func() error {
		out, err := c.readLog(client, "client")
		if err != nil {
			return err
		}
		if l := parseRequestLog(out, names); len(l.served) < 2 || len(l.lines) < 40 {
			return fmt.Errorf("%d requests, served by %v", len(l.lines), l.served)
		}
		return nil
	})
	cutIP := regexp.MustCompile(`\b` + regexp.QuoteMeta(cutPod.Status.PodIP) + `\b`)
	rulesName := func(i int) (bool, error) {
		res := c.Exec(i, 10*time.Second, "nft", "list", "table", "ip", "gossipod-proxy")
		return cutIP.MatchString(res.Stdout), res.Err()
	}
	if named, err := rulesName(0); err != nil || !named {
		t.Fatalf("%s's service rules do not name db-cut's address %s before the cut (%v)", c.Name(0), cutPod.Status.PodIP, err)
	}

	out, err := c.readLog(client, "client")
	if err != nil {
		t.Fatal(err)
	}
	atCut := strings.Count(out, "\n")
	c.Cut(victim)
	cut := time.Now()
	healed := false
	t.Cleanup(func() {
		if !healed {
			c.Heal(victim)
		}
	})
	// The address leaves the rules of the client's host (and the other
	// survivor's) once the leader has seen the host gone.
	for _, i := range []int{0, other} {
		Eventually(t, recoverTimeout, func() error {
			named, err := rulesName(i)
			if err != nil {
				return err
			}
			if named {
				return fmt.Errorf("%s's rules still name db-cut's address %s %v after the cut", c.Name(i), cutPod.Status.PodIP, time.Since(cut).Round(time.Second))
			}
			return nil
		})
	}
	switched := time.Since(cut)
	if out, err = c.readLog(client, "client"); err != nil {
		t.Fatal(err)
	}
	atSwitch := strings.Count(out, "\n")
	// A request in flight at the switch may still have been sent to the
	// lost pod, and is logged only when its 3 s timeout ends; every one
	// started after the switch must succeed.
	time.Sleep(fetchTimeout + time.Second)
	if out, err = c.readLog(client, "client"); err != nil {
		t.Fatal(err)
	}
	afterSwitch := strings.Count(out, "\n")
	c.waitRequests(client, "client", afterSwitch, 100, 60*time.Second)

	c.Heal(victim)
	healed = true
	c.WaitNoLeftovers(cutPod.Metadata.UID)
	if out, err = c.readLog(client, "client"); err != nil {
		t.Fatal(err)
	}
	atHeal := strings.Count(out, "\n")
	c.waitRequests(client, "client", atHeal, 100, 60*time.Second)
	l := parseRequestLog(c.stopClient(client, "client"), names)

	during := parseRequestLog(strings.Join(l.lines[atCut:atSwitch], "\n"), names)
	t.Logf("host cut: db-cut's address left the rules of %s and %s %v after the cut; %d requests meanwhile, %d failed, served by %v",
		c.Name(0), c.Name(other), switched.Round(100*time.Millisecond), len(during.lines), len(during.failed), during.served)
	if switched > recoverTimeout {
		t.Errorf("the switch took %v, want at most %v", switched, recoverTimeout)
	}
	steady := parseRequestLog(strings.Join(l.lines[afterSwitch:], "\n"), names)
	t.Logf("host cut: after the switch and through the heal, %d requests, %d failed, served by %v", len(steady.lines), len(steady.failed), steady.served)
	// Idle, none fails (0 of 318 and 0 of 348 in two runs); under a CI run's load
	// (every package's tests at once on 2 cores) a burst of requests across all
	// workers times out for a few seconds around the heal (9 of 334). The issue
	// asks for a small bound: at most 5 % of the requests after the switch.
	if len(steady.failed)*20 > len(steady.lines) {
		t.Errorf("%d of %d requests failed after the switch (more than 5 %%): %q", len(steady.failed), len(steady.lines), steady.failed)
	}
	if steady.served["db-cut"] > 0 {
		t.Errorf("the lost pod db-cut served %d requests after the switch", steady.served["db-cut"])
	}
}

// pinnedDBPod is a pod called name on node, labelled app=db, serving its
// name on its port http, Ready once it does.
func pinnedDBPod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    app: db
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", %q]
    ports:
    - name: http
      containerPort: 8080
    readinessProbe:
      exec:
        command: ["test", "-s", "/www/index.html"]
      periodSeconds: 1
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`, name, node, serveHostname)
}

// gatePod is a pod called name, labelled app=gate, serving its name on 8080,
// Ready only while /tmp/ready exists (created at start when ready is true).
func gatePod(name string, ready bool) string {
	cmd := serveHostname
	if ready {
		cmd = "touch /tmp/ready && " + cmd
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels:
    app: gate
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", %q]
    ports:
    - name: http
      containerPort: 8080
    readinessProbe:
      exec:
        command: ["test", "-f", "/tmp/ready"]
      periodSeconds: 1
    resources:
      requests: {cpu: 10m, memory: 16Mi}
`, name, cmd)
}

// fetchBatch is a shell command sending n requests to http://target/ and
// printing one fetchLoop line for each.
func fetchBatch(target string, n int) string {
	return fmt.Sprintf(`for n in $(seq %d); do r=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 3 nc -w 1 %s 80 2>/dev/null | tail -n 1); echo "$n ${r:-FAIL}"; done`, n, target)
}

// readyCondition is the status of the pod's Ready condition, or "".
func readyCondition(p Pod) string {
	cond, _ := p.Condition("Ready")
	return cond.Status
}

// TestNotReadyGetsNoTraffic shows readiness gating a Service: of two pods
// behind it, both Running and serving, the one whose readiness probe fails
// is Ready=False, listed not ready in the EndpointSlice, and gets none of 60
// requests through the Service, though it answers on its own IP; once its
// probe passes it becomes Ready and gets traffic.
func TestNotReadyGetsNoTraffic(t *testing.T) {
	c := appCluster(t)
	c.MustApply(0, gatePod("gate-ready", true)+"---\n"+gatePod("gate-late", false)+"---\n"+clientPod("client", "gate"))
	c.kubectlApply(httpService("gate"))
	readyPod := c.WaitPod(0, "gate-ready", scheduleTimeout+runTimeout, func(p Pod) error {
		if err := p.Running(); err != nil {
			return err
		}
		if s := readyCondition(p); s != "True" {
			return fmt.Errorf("pod %s is Ready=%q", p.Metadata.Name, s)
		}
		return nil
	})
	late := c.runningPod("gate-late")
	client := c.runningPod("client")
	names := []string{"gate-ready", "gate-late"}

	// The late pod serves on its own IP: only readiness keeps it out.
	if err := checkServed(c.execIn(client, "client", "sh", "-c", httpProbe("nc", late.Status.PodIP, 8080)), "gate-late"); err != nil {
		t.Fatalf("gate-late on its pod IP: %v", err)
	}
	Eventually(t, probeTimeout, func() error {
		var sl sliceList
		res := c.Kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=gate", "-o", "json")
		if err := res.Err(); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(res.Stdout), &sl); err != nil {
			return err
		}
		ready := map[string]bool{}
		for _, s := range sl.Items {
			for _, ep := range s.Endpoints {
				ready[ep.Addresses[0]] = ep.Conditions.Ready != nil && *ep.Conditions.Ready
			}
		}
		r, inReady := ready[readyPod.Status.PodIP]
		l, inLate := ready[late.Status.PodIP]
		if !inReady || !r || !inLate || l {
			return fmt.Errorf("endpoints %v, want %s ready and %s listed not ready", ready, readyPod.Status.PodIP, late.Status.PodIP)
		}
		return nil
	})
	if p, err := c.Pod(0, "gate-late"); err != nil || readyCondition(p) != "False" {
		t.Fatalf("gate-late: Ready=%q (%v), want False", readyCondition(p), err)
	}

	res := c.execIn(client, "client", "sh", "-c", fetchBatch("gate", 60))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	l := parseRequestLog(res.Stdout, names)
	t.Logf("while gate-late is not ready: %d requests, served by %v, %d failed", len(l.lines), l.served, len(l.failed))
	if l.served["gate-late"] > 0 || l.served["gate-ready"] != 60 {
		t.Errorf("60 requests through the Service while gate-late is not ready: served by %v, failed %q; want all by gate-ready", l.served, l.failed)
	}

	if res := c.execIn(late, "httpd", "touch", "/tmp/ready"); res.Err() != nil {
		t.Fatal(res.Err())
	}
	c.WaitPod(0, "gate-late", probeTimeout, func(p Pod) error {
		if s := readyCondition(p); s != "True" {
			return fmt.Errorf("pod %s is Ready=%q", p.Metadata.Name, s)
		}
		return nil
	})
	Eventually(t, probeTimeout, func() error {
		res := c.execIn(client, "client", "sh", "-c", fetchBatch("gate", 30))
		if err := res.Err(); err != nil {
			return err
		}
		l := parseRequestLog(res.Stdout, names)
		if l.served["gate-late"] == 0 || l.served["gate-ready"] == 0 || len(l.failed) > 0 {
			return fmt.Errorf("after gate-late became ready: served by %v, failed %q; want both pods", l.served, l.failed)
		}
		t.Logf("after gate-late became ready: served by %v", l.served)
		return nil
	})
}

// buildTool compiles the program ./e2e/<name> (statically: pods have no
// libc) into a fresh directory, which a test mounts into pods as a hostPath,
// and returns the directory.
func buildTool(t *testing.T, name string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./e2e/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build ./e2e/%s: %v\n%s", name, err, out.String())
	}
	return dir
}

// udpechoPath is where pods see the udpecho binary.
const udpechoPath = "/opt/udpecho/udpecho"

// echoSpec is a pod spec, at indentation 0, whose container name runs argv
// with the hostPath directory dir (holding udpecho) mounted where
// udpechoPath says; extra is more fields of the container, at indentation 0
// too.
func echoSpec(dir, name, extra string, argv ...string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = strconv.Quote(a)
	}
	return fmt.Sprintf(`terminationGracePeriodSeconds: 1
volumes:
- name: udpecho
  hostPath:
    path: %s
    type: Directory
containers:
- name: %s
  image: localhost/busybox:latest
  imagePullPolicy: IfNotPresent
  command: [%s]
  volumeMounts:
  - name: udpecho
    mountPath: /opt/udpecho
    readOnly: true
  resources:
    requests: {cpu: 10m, memory: 16Mi}
%s`, dir, name, strings.Join(q, ", "), indent(extra, "  "))
}

// indent puts prefix before every non-empty line of s.
func indent(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.TrimSpace(line) != "" {
			b.WriteString(prefix)
		}
		b.WriteString(line)
	}
	return b.String()
}

// TestUDPServiceAndHeadlessDNS shows a UDP Service: datagrams sent from a
// pod to the Service's name reach both of its ready pods, and a headless
// Service (clusterIP: None) over the same pods resolves, from a pod, to the
// ready pods' IPs and not to the IP of a pod that is not ready.
func TestUDPServiceAndHeadlessDNS(t *testing.T) {
	dir := buildTool(t, "udpecho")
	c := appCluster(t, "--allowed-host-paths", dir)
	c.PrivilegedNamespace(0, "default") // hostPath volumes
	// echo: 2 pods answering UDP on 5353. echo-unready: a pod with the
	// Services' label that is never ready.
	c.kubectlApply(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 2
  selector:
    matchLabels:
      echo: deploy
  template:
    metadata:
      labels:
        app: echo
        echo: deploy
    spec:
%s---
apiVersion: v1
kind: Pod
metadata:
  name: echo-unready
  labels:
    app: echo
spec:
%s---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
%s---
apiVersion: v1
kind: Service
metadata:
  name: echo-udp
spec:
  selector:
    app: echo
  ports:
  - name: dns
    protocol: UDP
    port: 53
    targetPort: 5353
---
apiVersion: v1
kind: Service
metadata:
  name: echo-headless
spec:
  clusterIP: None
  selector:
    app: echo
  ports:
  - name: dns
    protocol: UDP
    port: 5353
`, indent(echoSpec(dir, "echo", "", udpechoPath, "serve", "5353"), "      "),
		indent(echoSpec(dir, "echo", "readinessProbe:\n  exec:\n    command: [\"false\"]\n  periodSeconds: 1\n", udpechoPath, "serve", "5353"), "  "),
		indent(echoSpec(dir, "client", "", "sleep", "3600"), "  ")))
	echo := c.WaitSettled(0, "echo", 2, "", settleTimeout)
	unready := c.runningPod("echo-unready")
	client := c.runningPod("client")
	var ready []string
	for _, p := range echo {
		pod, err := c.Pod(0, p.Metadata.Name)
		if err != nil {
			t.Fatal(err)
		}
		ready = append(ready, pod.Status.PodIP)
	}
	slices.Sort(ready)
	names := append(podNames(echo), "echo-unready")

	t.Run("datagrams to the UDP Service reach both ready pods", func(t *testing.T) {
		c := c.WithT(t)
		var l requestLog
		Eventually(t, 2*probeTimeout, func() error {
			res := c.execIn(client, "client", udpechoPath, "ask", "echo-udp:53", "40")
			l = parseRequestLog(res.Stdout, names)
			for _, p := range podNames(echo) {
				if l.served[p] == 0 {
					return fmt.Errorf("40 datagrams to echo-udp:53: answered by %v, failed %q; stderr %s", l.served, l.failed, res.Stderr)
				}
			}
			return nil
		})
		t.Logf("40 datagrams to echo-udp:53: answered by %v, %d failed", l.served, len(l.failed))
		if l.served["echo-unready"] > 0 {
			t.Errorf("the pod that is not ready answered %d datagrams", l.served["echo-unready"])
		}
	})

	t.Run("the headless Service resolves to the ready pods' IPs", func(t *testing.T) {
		c := c.WithT(t)
		Eventually(t, probeTimeout, func() error {
			res := c.execIn(client, "client", "nslookup", "echo-headless.default.svc.cluster.local")
			if err := res.Err(); err != nil {
				return err
			}
			var got []string
			// busybox nslookup: the server's "Address:" line comes first,
			// after "Server:"; the answers follow "Name:".
			_, answers, _ := strings.Cut(res.Stdout, "Name:")
			for line := range strings.Lines(answers) {
				if a, ok := strings.CutPrefix(strings.TrimSpace(line), "Address:"); ok {
					got = append(got, strings.TrimSpace(a))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, ready) {
				return fmt.Errorf("nslookup echo-headless: %v, want the ready pods' IPs %v (not echo-unready's %s):\n%s",
					got, ready, unready.Status.PodIP, res.Stdout)
			}
			t.Logf("echo-headless resolves to %v (echo-unready, not ready, has %s)", got, unready.Status.PodIP)
			return nil
		})
	})

	t.Run("deleting the Services leaves no rule, conntrack entry or DNS record", func(t *testing.T) {
		c := c.WithT(t)
		res := c.Kubectl("get", "svc", "echo-udp", "-o", "jsonpath={.spec.clusterIP}")
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		clusterIP := strings.TrimSpace(res.Stdout)
		toClusterIP := func(i int) ([]string, error) {
			ct := c.Exec(i, 10*time.Second, "cat", "/proc/net/nf_conntrack")
			if err := ct.Err(); err != nil {
				return nil, err
			}
			var entries []string
			for line := range strings.Lines(ct.Stdout) {
				if strings.Contains(line, " udp ") && strings.Contains(line, "dst="+clusterIP+" ") {
					entries = append(entries, strings.TrimSpace(line))
				}
			}
			return entries, nil
		}
		// Fresh datagrams, so that the client's host has entries to the
		// cluster IP for the deletion to remove.
		Eventually(t, probeTimeout, func() error {
			c.execIn(client, "client", udpechoPath, "ask", "echo-udp:53", "5")
			for i := range c.N() {
				if entries, err := toClusterIP(i); err == nil && len(entries) > 0 {
					return nil
				}
			}
			return fmt.Errorf("no host has a conntrack entry to %s after datagrams to it", clusterIP)
		})
		if res := c.Kubectl("delete", "svc", "echo-udp", "echo-headless"); res.Err() != nil {
			t.Fatal(res.Err())
		}
		for i := range c.N() {
			Eventually(t, probeTimeout, func() error {
				res := c.Exec(i, 10*time.Second, "nft", "list", "table", "ip", "gossipod-proxy")
				if err := res.Err(); err != nil {
					return err
				}
				if strings.Contains(res.Stdout, "default/echo-udp") || strings.Contains(res.Stdout, clusterIP) {
					return fmt.Errorf("%s still has rules of default/echo-udp:\n%s", c.Name(i), res.Stdout)
				}
				entries, err := toClusterIP(i)
				if err != nil {
					return err
				}
				if len(entries) > 0 {
					return fmt.Errorf("%s still has conntrack entries to %s: %q", c.Name(i), clusterIP, entries)
				}
				return nil
			})
		}
		for _, name := range []string{"echo-udp.default.svc.cluster.local", "echo-headless.default.svc.cluster.local"} {
			Eventually(t, probeTimeout, func() error {
				res := c.execIn(client, "client", "nslookup", name)
				if out := res.Stdout + res.Stderr; res.Err() == nil || !strings.Contains(out, "NXDOMAIN") {
					return fmt.Errorf("nslookup %s after the deletion: want NXDOMAIN, got:\n%s", name, out)
				}
				return nil
			})
		}
	})
}

// TestRollingUpdateUnderTraffic rolls a Service's Deployment (readiness
// probe, maxUnavailable 0) by changing an env var with kubectl apply while a
// client sends ~20 requests a second to the Service: not one request fails,
// because new pods get traffic only once Ready and old pods leave the
// endpoints when marked for deletion, before they stop serving.
func TestRollingUpdateUnderTraffic(t *testing.T) {
	c := appCluster(t)
	c.kubectlApply(appDeployment("roll", 3, "v1") + "---\n" + httpService("roll"))
	c.MustApply(0, clientPod("client", "roll"))
	old := c.WaitSettled(0, "roll", 3, "", settleTimeout)
	client := c.runningPod("client")
	if res := c.execIn(client, "client", "touch", "/tmp/go"); res.Err() != nil {
		t.Fatal(res.Err())
	}
	Eventually(t, 2*probeTimeout, func() error {
		out, err := c.readLog(client, "client")
		if err != nil {
			return err
		}
		if l := parseRequestLog(out, podNames(old)); len(l.served) < 3 {
			return fmt.Errorf("%d requests, served by %v", len(l.lines), l.served)
		}
		return nil
	})
	out, err := c.readLog(client, "client")
	if err != nil {
		t.Fatal(err)
	}
	appliedAt := strings.Count(out, "\n")
	start := time.Now()
	c.kubectlApply(appDeployment("roll", 3, "v2"))
	updated := c.WaitSettled(0, "roll", 3, old[0].Hash(), 2*settleTimeout)
	took := time.Since(start)
	if out, err = c.readLog(client, "client"); err != nil {
		t.Fatal(err)
	}
	settledAt := strings.Count(out, "\n")
	c.waitRequests(client, "client", settledAt, 40, 30*time.Second)
	l := parseRequestLog(c.stopClient(client, "client"), slices.Concat(podNames(old), podNames(updated)))
	t.Logf("rolling update: %v from apply to settled, %d requests meanwhile; %d requests in all, %d failed, served by %v",
		took.Round(time.Millisecond), settledAt-appliedAt, len(l.lines), len(l.failed), l.served)
	// The rollout replaced 3 pods one at a time: it must have been under
	// traffic throughout for "no request failed" to mean something.
	if settledAt-appliedAt < 40 {
		t.Errorf("only %d requests during the rollout (%v), want 40 or more", settledAt-appliedAt, took)
	}
	if len(l.failed) > 0 {
		t.Errorf("%d of %d requests failed during the rolling update: %q", len(l.failed), len(l.lines), l.failed)
	}
	for _, line := range l.lines[settledAt:] {
		_, body, _ := strings.Cut(line, " ")
		if slices.Contains(podNames(old), body) {
			t.Errorf("request %q served by an old pod after the rollout settled", line)
		}
	}
	for _, p := range podNames(updated) {
		if l.served[p] == 0 {
			t.Errorf("new pod %s served none of the requests: %v", p, l.served)
		}
	}
}
