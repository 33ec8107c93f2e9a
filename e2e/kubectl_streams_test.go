package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kubectlStreams runs real kubectl (built from k8s.io/kubectl, see
// BuildKubectl) against pod "streams" of c: exec with the exit code, with
// stdin, -it under a pseudo-terminal whose size it passes on and follows,
// attach (and attach -i refused with the reason), port-forward. kubectl
// resolves the pod through discovery first, so this needs the API's
// discovery documents: without them (GET /api answers 404) it skips,
// naming why.
func kubectlStreams(t *testing.T, c *Cluster, apiGet func(path string) (int, error)) {
	if code, err := apiGet("/api"); err != nil || code == http.StatusNotFound {
		t.Skipf("kubectl resolves pods through discovery, which this API does not serve yet (GET /api: %d %v)", code, err)
	}
	kubectl := BuildKubectl(t)
	kc := c.Kubeconfig()
	run := func(stdin string, args ...string) Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kc}, args...)...)
		cmd.Env = childEnv()
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		res := Result{Args: cmd.Args, Stdout: out.String(), Stderr: errb.String(), ExitCode: cmd.ProcessState.ExitCode(), TimedOut: ctx.Err() != nil}
		if err != nil && cmd.ProcessState == nil {
			t.Fatalf("kubectl %v: %v", args, err)
		}
		return res
	}

	res := run("", "exec", "streams", "-c", "app", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
	if res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "err\ncommand terminated with exit code 3\n" {
		t.Errorf("kubectl exec exit 3:\n%s", res)
	}
	if res := run("ping\n", "exec", "-i", "streams", "-c", "app", "--", "cat"); res.Err() != nil || res.Stdout != "ping\n" {
		t.Errorf("kubectl exec -i cat:\n%s", res)
	}
	if res := run("", "exec", "streams", "-c", "nope", "--", "true"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "container nope is not valid for pod streams") {
		t.Errorf("kubectl exec -c nope:\n%s", res)
	}

	// exec -it in a pseudo-terminal of 33x99, resized to 50x140.
	out, code := runInPTY(t, []string{kubectl, "--kubeconfig", kc, "exec", "-it", "streams", "-c", "app", "--", "sh", "-c", "stty size; echo READY; exec sh"},
		func(term *os.File, seen func(string) bool) {
			waitFor(t, seen, "READY")
			setWinsize(t, term, 50, 140) // the kernel signals kubectl
			time.Sleep(500 * time.Millisecond)
			_, _ = io.WriteString(term, "stty size; exit 5\r")
		})
	if code != 5 || !strings.Contains(out, "33 99") || !strings.Contains(out, "50 140") {
		t.Errorf("kubectl exec -it: exit %d, output %q; want 33 99, then 50 140, exit 5", code, out)
	}

	// attach shows the container's output as it comes.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	attach, _ := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc, "attach", "streams", "-c", "ticker").CombinedOutput()
	cancel()
	if !regexp.MustCompile(`(?m)^tick \d+$`).Match(attach) {
		t.Errorf("kubectl attach: %q", attach)
	}
	if res := run("", "attach", "-i", "streams", "-c", "ticker"); res.ExitCode == 0 || !strings.Contains(res.Stderr, "gossipod does not keep a container's stdin open") {
		t.Errorf("kubectl attach -i:\n%s", res)
	}

	// port-forward on a port kubectl picks.
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	pf := exec.CommandContext(pctx, kubectl, "--kubeconfig", kc, "port-forward", "pod/streams", ":8080")
	pf.Env = childEnv()
	pr, pw := io.Pipe()
	pf.Stdout, pf.Stderr = pw, pw
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pcancel(); _ = pf.Wait(); pw.Close() }()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			if n > 0 {
				select {
				case lines <- string(buf[:n]):
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var local string
	forwarding := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)
	for local == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("kubectl port-forward ended")
			}
			if m := forwarding.FindStringSubmatch(l); m != nil {
				local = m[1]
			}
		case <-time.After(30 * time.Second):
			t.Fatal("kubectl port-forward printed no Forwarding line in 30 s")
		}
	}
	for i := range 3 {
		resp, err := http.Get("http://127.0.0.1:" + local + "/index.html")
		if err != nil {
			t.Fatalf("request %d through kubectl port-forward: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "hello-from-" + c.Name(1) + "\n"; resp.StatusCode != http.StatusOK || string(b) != want {
			t.Fatalf("request %d: %d %q, want %q", i, resp.StatusCode, b, want)
		}
	}
}

// runInPTY runs argv with a new pseudo-terminal (33x99) as its
// controlling terminal and stdio, lets drive type into it, and returns
// what it printed and its exit code.
func runInPTY(t *testing.T, argv []string, drive func(term *os.File, seen func(string) bool)) (string, int) {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	setWinsize(t, master, 33, 99)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = childEnv()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once every holder of the terminal is gone
			}
		}
	}()
	drive(master, func(s string) bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), s)
	})
	_ = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	return out.String(), cmd.ProcessState.ExitCode()
}

// openPTY opens a new pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	ctlErr := control(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return err
		}
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN)
		return err
	})
	if ctlErr != nil {
		master.Close()
		t.Fatalf("unlock the pseudo-terminal: %v", ctlErr)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	return master, slave
}

func setWinsize(t *testing.T, term *os.File, rows, cols uint16) {
	t.Helper()
	if err := control(term, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		t.Fatalf("set the terminal size: %v", err)
	}
}

// control runs fn on f's descriptor without making it blocking (as Fd
// would).
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// waitFor waits until seen(s), for at most 30 s.
func waitFor(t *testing.T, seen func(string) bool, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !seen(s); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not seen within 30 s", s)
		}
	}
}
