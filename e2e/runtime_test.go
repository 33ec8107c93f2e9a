package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// warContent is what the init container of examples/war-pod.yaml copies into the
// emptyDir that the web container serves.
const warContent = "<h1>sample.war v2</h1>"

// warWithReader is the WAR example with a second app container that fetches the page
// from the web container over the pod's localhost every second and prints it, so its
// log shows that the containers share a network and that the init container ran first.
const warWithReader = `apiVersion: v1
kind: Pod
metadata:
  name: war-reader
spec:
  initContainers:
  - name: war
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo '<h1>sample.war v2</h1>' > /sample.war && cp /sample.war /app/index.html"]
    volumeMounts:
    - name: app-volume
      mountPath: /app
  containers:
  - name: web
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
    volumeMounts:
    - name: app-volume
      mountPath: /www
      readOnly: true
  - name: reader
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "while true; do wget -qO- http://127.0.0.1:8080/ || echo fetch failed; sleep 1; done"]
  volumes:
  - name: app-volume
    emptyDir: {}
`

// TestPodRuntime runs real pods on real agents: the test image is loaded into every
// host through its API, and the seed's WAR example runs (init container first, then
// the app serving the copied file); exec works through any agent with the command's
// exit code and output; logs are served through an agent that does not run the pod;
// and SIGKILLing and restarting the agent that runs a pod does not restart its
// containers.
func TestPodRuntime(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 3, AgentArgs: BootstrapExpect(3, 0, 1, 2)})
	c.CleanupPods()
	waitFormed(t, c, 3, 0)
	for i := range c.N() {
		c.LoadImage(i)
	}
	// Every agent lists the image it was given.
	for i := range c.N() {
		res := c.RunOn(i, "image", "ls")
		if err := res.Err(); err != nil || !strings.Contains(res.Stdout, "localhost/busybox:latest") {
			t.Fatalf("image ls on %s does not list the loaded image (%v):\n%s", c.Name(i), err, res)
		}
	}

	c.MustApply(0, example(t, "war-pod.yaml"))
	c.MustApply(0, warWithReader)
	war := c.WaitPod(0, "javaweb", scheduleTimeout+runTimeout, Pod.Running)
	owner := c.Index(war.Spec.NodeName)
	if owner < 0 {
		t.Fatalf("javaweb is bound to unknown node %q", war.Spec.NodeName)
	}
	other := (owner + 1) % c.N() // an agent that does not run javaweb
	t.Logf("javaweb runs on %s; asking %s about it", c.Name(owner), c.Name(other))

	t.Run("init container completed before the app started", func(t *testing.T) {
		if len(war.Status.InitContainerStatuses) != 1 {
			t.Fatalf("init container statuses %+v, want one (war)", war.Status.InitContainerStatuses)
		}
		init := war.Status.InitContainerStatuses[0]
		if term := init.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Fatalf("init container war: state %+v, want terminated with exit code 0, Completed", init.State)
		}
		web, _ := war.Container("web")
		if started, finished := web.State.Running.StartedAt, init.State.Terminated.FinishedAt; started < finished {
			t.Errorf("web started at %s, before war finished at %s", started, finished)
		}
	})

	t.Run("the app serves the copied file", func(t *testing.T) {
		c := c.WithT(t)
		for _, via := range []int{owner, other} {
			res := c.RunOn(via, "exec", "javaweb", "-c", "web", "--", "wget", "-qO-", "http://127.0.0.1:8080/")
			if err := res.Err(); err != nil {
				t.Fatalf("through %s: %v", c.Name(via), err)
			}
			if strings.TrimSpace(res.Stdout) != warContent {
				t.Errorf("through %s: served %q, want %q", c.Name(via), res.Stdout, warContent)
			}
		}
	})

	t.Run("exec exit codes and output", func(t *testing.T) {
		c := c.WithT(t)
		cases := []struct {
			name       string
			cmd        []string
			code       int
			stdout     string
			stderrHas  string
			throughAll bool
		}{
			{"success", []string{"true"}, 0, "", "", true},
			{"false", []string{"false"}, 1, "", "", true},
			{"exit code of a shell", []string{"sh", "-c", "echo out; echo err >&2; exit 42"}, 42, "out\n", "err", true},
			{"the container's view", []string{"cat", "/www/index.html"}, 0, warContent + "\n", "", false},
			{"read-only volume", []string{"touch", "/www/x"}, 1, "", "Read-only file system", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := c.WithT(t)
				vias := []int{other}
				if tc.throughAll {
					vias = hostsExcept(c, -1)
				}
				for _, via := range vias {
					res := c.RunOn(via, append([]string{"exec", "javaweb", "-c", "web", "--"}, tc.cmd...)...)
					if res.TimedOut || res.ExitCode != tc.code {
						t.Errorf("through %s: want exit code %d:\n%s", c.Name(via), tc.code, res)
						continue
					}
					if res.Stdout != tc.stdout {
						t.Errorf("through %s: stdout %q, want %q", c.Name(via), res.Stdout, tc.stdout)
					}
					if !strings.Contains(res.Stderr, tc.stderrHas) {
						t.Errorf("through %s: stderr %q does not contain %q", c.Name(via), res.Stderr, tc.stderrHas)
					}
				}
			})
		}
	})

	t.Run("logs through an agent that does not run the pod", func(t *testing.T) {
		c := c.WithT(t)
		p := c.WaitPod(0, "war-reader", scheduleTimeout+runTimeout, Pod.Running)
		runsOn := c.Index(p.Spec.NodeName)
		via := (runsOn + 1) % c.N()
		Eventually(t, 20*time.Second, func() error {
			res := c.RunOn(via, "logs", "war-reader", "-c", "reader")
			if err := res.Err(); err != nil {
				return err
			}
			if !strings.Contains(res.Stdout, warContent) {
				return fmt.Errorf("logs of war-reader/reader through %s lack %q:\n%s", c.Name(via), warContent, res.Stdout)
			}
			// App containers start together, as kubelet starts them without
			// waiting for one to listen: the reader's first fetches may come
			// before web listens. Fetching over localhost works once it does.
			if strings.Contains(res.Stdout, "fetch failed") {
				t.Logf("the reader fetched before web listened, then succeeded:\n%s", res.Stdout)
			}
			return nil
		})
		res := c.RunOn(via, "logs", "war-reader", "-c", "reader", "--tail", "1")
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(res.Stdout); got != warContent {
			t.Errorf("logs --tail 1 through %s: %q, want the one line %q", c.Name(via), got, warContent)
		}
		res = c.RunOn(via, "logs", "war-reader", "-c", "no-such-container")
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, "no-such-container") {
			t.Errorf("logs of a missing container: want an error naming it:\n%s", res)
		}
	})

	// The pod's agent is SIGKILLed and started again; the pod must keep running
	// untouched and be served by the new agent. Both roles: a restarted follower
	// finds the same leader, a restarted leader finds a new one (and a log whose
	// last entries are the new leader's own, not pod commands).
	restarts := []struct {
		name string
		pick func(leader int) int
	}{
		{"a follower's agent", func(leader int) int { return (leader + 1) % c.N() }},
		{"the leader's agent", func(leader int) int { return leader }},
	}
	for _, tc := range restarts {
		t.Run("SIGKILL and restart of "+tc.name+" keep its pod's containers", func(t *testing.T) {
			c := c.WithT(t)
			owner := tc.pick(c.Index(waitFormed(t, c, 3, 0)))
			other := (owner + 1) % c.N()
			name := "keeper-" + c.Name(owner)
			c.MustApply(other, fmt.Sprintf(keeper, name, c.Name(owner)))
			before := c.WaitPod(other, name, scheduleTimeout+runTimeout, boundTo(c.Name(owner)))
			main, _ := before.Container("main")
			pids := podPids(before.Metadata.UID)
			if len(pids) < 2 {
				t.Fatalf("want the pause and the main process in %s's cgroups, found %v", name, pids)
			}
			start := procOneStart(t, c, other, name)

			c.Kill(owner)
			time.Sleep(2 * time.Second) // pods must outlive their agent
			if now := podPids(before.Metadata.UID); !slices.Equal(now, pids) {
				t.Fatalf("%s's processes changed while its agent was down: %v, then %v", name, pids, now)
			}
			c.Start(owner)

			// Wait until the restarted agent serves the pod again (exec and logs
			// go through it), then give it a few seconds to do anything wrong.
			Eventually(t, restartTimeout, func() error {
				return c.RunOn(other, "exec", name, "--", "true").Err()
			})
			time.Sleep(3 * time.Second)

			after := c.WaitPod(other, name, runTimeout, boundTo(c.Name(owner)))
			mainAfter, _ := after.Container("main")
			if mainAfter.RestartCount != 0 {
				t.Errorf("restartCount %d after the agent restart, want 0", mainAfter.RestartCount)
			}
			if mainAfter.ContainerID != main.ContainerID || mainAfter.State.Running.StartedAt != main.State.Running.StartedAt {
				t.Errorf("container changed across the agent restart: %s started %s, now %s started %s",
					main.ContainerID, main.State.Running.StartedAt, mainAfter.ContainerID, mainAfter.State.Running.StartedAt)
			}
			if after.Metadata.UID != before.Metadata.UID {
				t.Errorf("pod replaced: uid %s, now %s", before.Metadata.UID, after.Metadata.UID)
			}
			if now := podPids(before.Metadata.UID); !slices.Equal(now, pids) {
				t.Errorf("processes changed across the agent restart: %v, now %v", pids, now)
			}
			if now := procOneStart(t, c, other, name); now != start {
				t.Errorf("the container's PID 1 started at tick %s before the agent restart, now %s: it was restarted", start, now)
			}
			res := c.RunOn(other, "logs", name)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(res.Stdout, "started"); n != 1 {
				t.Errorf("the container's log shows %d starts, want 1:\n%s", n, res.Stdout)
			}
			c.DeletePod(other, name)
		})
	}
}

// keeper is a pod pinned to one node (by its kubernetes.io/hostname label) whose one
// container says when it starts and then sleeps as its PID 1.
const keeper = `apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  nodeSelector:
    kubernetes.io/hostname: %s
  containers:
  - name: main
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo started; exec sleep 3600"]
`

// restartTimeout bounds how long a restarted agent may take to serve its pods again:
// rejoining gossip, catching up with the leader and re-adopting its sandboxes take a
// few seconds.
const restartTimeout = 30 * time.Second

// podPids returns the sorted host PIDs of the processes in a pod's cgroups.
func podPids(uid string) []int {
	var pids []int
	for _, pr := range processesInPodCgroup(uid) {
		pids = append(pids, pr.pid)
	}
	slices.Sort(pids)
	return pids
}

// procOneStart returns the start time (field 22 of /proc/1/stat, in clock ticks since
// boot) of the main process of pod's only container, read with exec through host via:
// a restarted process has a later one.
func procOneStart(t *testing.T, c *Cluster, via int, pod string) string {
	t.Helper()
	res := c.RunOn(via, "exec", pod, "--", "cat", "/proc/1/stat")
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: count fields
	// after its closing parenthesis, where field 3 starts.
	rest := res.Stdout[strings.LastIndexByte(res.Stdout, ')')+1:]
	fields := strings.Fields(rest)
	if len(fields) < 20 {
		t.Fatalf("unexpected /proc/1/stat: %q", res.Stdout)
	}
	return fields[19] // field 22
}
