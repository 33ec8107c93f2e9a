package e2e

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gossipod/gossipod/internal/testimage"
)

// userImage is the test image with `USER 1000` in its config, loaded beside it.
const userImage = "localhost/busybox-user:1000"

// isolationManifest is what TestWorkloadIsolationKubectl applies with kubectl, in one
// file: a namespace labelled privileged for the one pod that asks for Unconfined
// seccomp (baseline refuses it), and pods pinned to the two hosts, each next to its
// control. Arguments: host0's name, host1's name, userImage.
const isolationManifest = `apiVersion: v1
kind: Namespace
metadata:
  name: isolation
  labels:
    pod-security.kubernetes.io/enforce: privileged
---
apiVersion: v1
kind: Pod
metadata:
  name: users
spec:
  nodeSelector:
    kubernetes.io/hostname: %[1]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: image-user
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
  - name: run-as
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    securityContext:
      runAsUser: 2000
  - name: non-root
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    securityContext:
      runAsNonRoot: true
---
apiVersion: v1
kind: Pod
metadata:
  name: nonroot
spec:
  nodeSelector:
    kubernetes.io/hostname: %[1]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    securityContext:
      runAsNonRoot: true
---
apiVersion: v1
kind: Pod
metadata:
  name: locked
spec:
  nodeSelector:
    kubernetes.io/hostname: %[1]s
  terminationGracePeriodSeconds: 1
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: locked
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    securityContext:
      readOnlyRootFilesystem: true
      capabilities:
        drop: ["NET_RAW"]
    volumeMounts:
    - name: data
      mountPath: /data
  - name: plain
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    volumeMounts:
    - name: data
      mountPath: /data
---
apiVersion: v1
kind: Pod
metadata:
  name: unconfined
  namespace: isolation
spec:
  nodeSelector:
    kubernetes.io/hostname: %[2]s
  terminationGracePeriodSeconds: 1
  securityContext:
    seccompProfile:
      type: Unconfined
  containers:
  - name: app
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: userns
spec:
  nodeSelector:
    kubernetes.io/hostname: %[2]s
  terminationGracePeriodSeconds: 1
  hostUsers: false
  volumes:
  - name: data
    emptyDir: {}
  containers:
  - name: app
    image: localhost/busybox:latest
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
    volumeMounts:
    - name: data
      mountPath: /data
`

// runAsNonRootMessage is kubelet's refusal of a root image under runAsNonRoot.
const runAsNonRootMessage = "container has runAsNonRoot and image will run as root"

// TestWorkloadIsolationKubectl shows issue 14's isolation through real agents and
// upstream kubectl on two hosts, every check beside a control that must come out the
// other way:
//   - an image with `USER 1000` runs as 1000, runAsUser 2000 overrides it, runAsNonRoot
//     admits it; runAsNonRoot with the root image leaves the container Waiting with
//     CreateContainerConfigError and kubelet's message;
//   - under the default RuntimeDefault seccomp `unshare -U true` fails; a pod asking
//     for Unconfined (in a privileged namespace) runs it;
//   - readOnlyRootFilesystem refuses a write to / and takes one to an emptyDir, where
//     the container beside it writes / freely; dropping NET_RAW stops `ping` to a pod
//     on the other host, which the container beside it reaches;
//   - `hostUsers: false` is root inside a user namespace that maps 0 to a range of its
//     own, and a file it writes to an emptyDir belongs on the node to that range, where
//     a file from the host's user namespace belongs to root.
func TestWorkloadIsolationKubectl(t *testing.T) {
	c := NewCluster(t, Options{Hosts: 2, AgentArgs: BootstrapExpect(2)})
	c.CleanupPods()
	kubectl := BuildKubectl(t)
	c.TestImage() // skips without busybox, or fails under CI=true
	base, err := testimage.Image()
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimage.WithUser(base, "1000")
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "busybox-user.tar")
	if err := testimage.Write(archive, userImage, img); err != nil {
		t.Fatal(err)
	}
	waitFormed(t, c, 2, 0)
	for i := range c.N() {
		c.LoadImage(i)
		c.LoadArchive(i, archive, userImage)
	}
	start := time.Now()

	k := func(t *testing.T, args ...string) Result {
		t.Helper()
		return c.WithT(t).KubectlWith(kubectl, kubectlTimeout, args...)
	}
	manifest := filepath.Join(t.TempDir(), "isolation.yaml")
	writeManifest(t, manifest, fmt.Sprintf(isolationManifest, c.Name(0), c.Name(1), userImage))
	if res := k(t, "apply", "-f", manifest); res.Err() != nil {
		t.Fatal(res.Err())
	}
	for _, p := range []struct {
		name string
		host int
	}{{"users", 0}, {"locked", 0}, {"userns", 1}} {
		c.WaitPod(0, p.name, scheduleTimeout+runTimeout, boundTo(c.Name(p.host)))
	}
	var unconfinedIP string
	Eventually(t, scheduleTimeout+runTimeout, func() error {
		var p Pod
		if err := c.decodeJSON(0, &p, "get", "pods", "unconfined", "-n", "isolation", "-o", "json"); err != nil {
			return err
		}
		if err := boundTo(c.Name(1))(p); err != nil {
			return err
		}
		unconfinedIP = p.Status.PodIP
		return nil
	})
	t.Logf("pods running %v after apply", time.Since(start).Round(time.Millisecond))

	// inPod runs argv in a container with `kubectl exec`, which exits with the
	// command's code.
	inPod := func(t *testing.T, pod, container string, argv ...string) Result {
		t.Helper()
		ns := "default"
		if pod == "unconfined" {
			ns = "isolation"
		}
		return k(t, append([]string{"exec", pod, "-n", ns, "-c", container, "--"}, argv...)...)
	}
	// succeeds runs argv and returns its stdout, trimmed; fails wants it to fail with
	// a message on stderr containing why.
	succeeds := func(t *testing.T, pod, container string, argv ...string) string {
		t.Helper()
		res := inPod(t, pod, container, argv...)
		if err := res.Err(); err != nil {
			t.Fatalf("in %s/%s: %v", pod, container, err)
		}
		return strings.TrimSpace(res.Stdout)
	}
	fails := func(t *testing.T, why, pod, container string, argv ...string) {
		t.Helper()
		res := inPod(t, pod, container, argv...)
		if res.ExitCode == 0 || res.TimedOut || !strings.Contains(res.Stderr, why) {
			t.Errorf("in %s/%s: want %q to fail with %q:\n%s", pod, container, strings.Join(argv, " "), why, res)
		}
	}

	t.Run("image USER, runAsUser and runAsNonRoot", func(t *testing.T) {
		for _, tt := range []struct{ container, uid string }{
			{"image-user", "1000"}, // the image's USER
			{"run-as", "2000"},     // runAsUser over it
			{"non-root", "1000"},   // runAsNonRoot admits a non-root image
		} {
			if got := succeeds(t, "users", tt.container, "id", "-u"); got != tt.uid {
				t.Errorf("container %s: id -u = %q, want %s", tt.container, got, tt.uid)
			}
		}
		const jsonpath = `jsonpath={.status.phase}|{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.waiting.message}`
		Eventually(t, scheduleTimeout+runTimeout, func() error {
			res := k(t, "get", "pod", "nonroot", "-o", jsonpath)
			if err := res.Err(); err != nil {
				return err
			}
			f := strings.SplitN(res.Stdout, "|", 3)
			if len(f) != 3 || f[0] != "Pending" || f[1] != "CreateContainerConfigError" || !strings.Contains(f[2], runAsNonRootMessage) {
				return fmt.Errorf("pod nonroot: phase|reason|message = %q, want Pending|CreateContainerConfigError|%s", res.Stdout, runAsNonRootMessage)
			}
			return nil
		})
		// describe shows the state, and kubelet's Failed event with the message.
		Eventually(t, probeTimeout, func() error {
			res := k(t, "describe", "pod", "nonroot")
			if err := res.Err(); err != nil {
				return err
			}
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`(?m)^\s+State:\s+Waiting\n\s+Reason:\s+CreateContainerConfigError$`),
				regexp.MustCompile(`(?m)^\s+Warning\s+Failed\s.*\skubelet\s+Error: ` + runAsNonRootMessage + ` \(pod: "nonroot_default\(`),
			} {
				if !want.MatchString(res.Stdout) {
					return fmt.Errorf("kubectl describe pod nonroot matches no %s:\n%s", want, res.Stdout)
				}
			}
			return nil
		})
	})

	t.Run("RuntimeDefault seccomp and Unconfined", func(t *testing.T) {
		fails(t, "Operation not permitted", "locked", "plain", "unshare", "-U", "true")
		if got := succeeds(t, "locked", "plain", "grep", "Seccomp:", "/proc/self/status"); got != "Seccomp:\t2" {
			t.Errorf("a container without seccompProfile: %q, want filter mode 2", got)
		}
		succeeds(t, "unconfined", "app", "unshare", "-U", "true")
		if got := succeeds(t, "unconfined", "app", "grep", "Seccomp:", "/proc/self/status"); got != "Seccomp:\t0" {
			t.Errorf("a container with Unconfined: %q, want no filter", got)
		}
	})

	t.Run("readOnlyRootFilesystem and NET_RAW", func(t *testing.T) {
		fails(t, "Read-only file system", "locked", "locked", "touch", "/written")
		succeeds(t, "locked", "locked", "touch", "/data/written")
		succeeds(t, "locked", "plain", "touch", "/written")
		// The network first, from the container that keeps NET_RAW: then a failure
		// beside it is the capability's.
		Eventually(t, probeTimeout, func() error {
			return inPod(t, "locked", "plain", "ping", "-c1", "-W2", unconfinedIP).Err()
		})
		fails(t, "permission denied", "locked", "locked", "ping", "-c1", "-W2", unconfinedIP)
	})

	t.Run("hostUsers false", func(t *testing.T) {
		if got := succeeds(t, "userns", "app", "id", "-u"); got != "0" {
			t.Errorf("id -u = %q, want 0", got)
		}
		const identity = "0 0 4294967295"
		if got := strings.Join(strings.Fields(succeeds(t, "locked", "plain", "cat", "/proc/self/uid_map")), " "); got != identity {
			t.Errorf("a pod in the host's user namespace: uid_map %q, want the identity %q", got, identity)
		}
		m := strings.Fields(succeeds(t, "userns", "app", "cat", "/proc/self/uid_map"))
		if len(m) != 3 || m[0] != "0" {
			t.Fatalf("uid_map %q, want one line mapping 0", m)
		}
		hostBase, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || hostBase < 65536 {
			t.Fatalf("uid_map %q maps 0 to %q, want a host uid of at least 65536", m, m[1])
		}
		succeeds(t, "userns", "app", "touch", "/data/written-in-userns")
		// locked's plain container wrote /data/written above, as the host's root.
		for _, tt := range []struct {
			host      int
			pod, file string
			owner     uint64
		}{
			{1, "userns", "written-in-userns", hostBase},
			{0, "locked", "written", 0},
		} {
			p, err := c.Pod(tt.host, tt.pod)
			if err != nil {
				t.Fatal(err)
			}
			path, uid, err := emptyDirFile(c.DataDir(tt.host), p.Metadata.UID, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if uid != tt.owner {
				t.Errorf("%s, written in pod %s, belongs to uid %d on %s, want %d", path, tt.pod, uid, c.Name(tt.host), tt.owner)
			}
		}
	})

	// Still refused, not retried into running.
	var p Pod
	if err := c.decodeJSON(0, &p, "get", "pods", "nonroot", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if s, ok := p.Container("app"); !ok || s.State.Waiting == nil || s.State.Waiting.Reason != "CreateContainerConfigError" {
		t.Errorf("pod nonroot's container at the end: %+v, want still Waiting with CreateContainerConfigError", s.State)
	}
	t.Logf("checks done %v after apply", time.Since(start).Round(time.Millisecond))
}

// emptyDirFile finds the file called name in an emptyDir of pod uid under a host's
// data dir, where the node keeps the pod's volumes, and returns its path and owner.
func emptyDirFile(dataDir, podUID, name string) (string, uint64, error) {
	var found []string
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished meanwhile: not the file we look for
		}
		if d.Name() == name && !d.IsDir() && strings.Contains(path, "/"+podUID+"/") && strings.Contains(path, "/volumes/") {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	if len(found) != 1 {
		return "", 0, fmt.Errorf("files %q of pod %s's volumes under %s: %q, want one", name, podUID, dataDir, found)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(found[0], &st); err != nil {
		return "", 0, fmt.Errorf("stat %s: %w", found[0], err)
	}
	return found[0], uint64(st.Uid), nil
}
