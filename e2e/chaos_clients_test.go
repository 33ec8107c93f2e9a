package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gossipod/gossipod/e2e/chaos"
)

// The fault run's workload. Every pod asks for chaosPodCPU of the chaosNodeCPU each
// agent offers (--cpu), so four fit a node: the clients' pods and the Deployments'
// replicas together (at most chaosPodPool + chaosDeploymentPool*chaosMaxReplicas = 20)
// can fill the 5 nodes' 20 slots, and more than fill them while a host is lost;
// placement then works near the limit, where a stale leader view would overcommit a
// node if the FSM did not check the binding again.
const (
	chaosNodeCPU         = "400m"
	chaosPodCPU          = "100m"
	chaosPodsPerNode     = 4  // chaosNodeCPU / chaosPodCPU
	chaosPodPool         = 14 // pod names chaos-p-0 .. chaos-p-13
	chaosDeploymentPool  = 2  // deployment names chaos-d-0, chaos-d-1
	chaosMaxReplicas     = 3
	chaosClients         = 4
	chaosRequestTimeout  = 5 * time.Second
	chaosValueAnnotation = "chaos.gossipod.io/value"
	chaosNamespace       = "default"
)

// chaosHistory is the run's list of operations, appended to by every client.
type chaosHistory struct {
	mu  sync.Mutex
	ops []chaos.Op
}

func (h *chaosHistory) add(op chaos.Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

// snapshot returns a copy of the operations so far.
func (h *chaosHistory) snapshot() []chaos.Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]chaos.Op(nil), h.ops...)
}

// chaosClient is one client goroutine: it calls a random agent's API with a random
// write, one at a time, and records each request's outcome. Its random choices come
// from its own source, seeded from the run's seed, so its sequence of intended
// operations is reproducible (the outcomes, of course, depend on the faults' timing).
type chaosClient struct {
	id      int
	rnd     *rand.Rand
	hosts   []netHost
	http    *http.Client
	history *chaosHistory
	seen    func(uids ...string) // remembers pod UIDs for the leftover checks
	seq     int
}

// run issues operations until ctx ends.
func (cl *chaosClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		// Draw every choice up front, whatever the operation, so that one client's
		// sequence of choices depends on the seed alone.
		agent := cl.rnd.Intn(len(cl.hosts))
		kind := cl.rnd.Intn(100)
		podName := fmt.Sprintf("chaos-p-%d", cl.rnd.Intn(chaosPodPool))
		depName := fmt.Sprintf("chaos-d-%d", cl.rnd.Intn(chaosDeploymentPool))
		replicas := cl.rnd.Intn(chaosMaxReplicas + 1) // 0..max
		pause := time.Duration(50+cl.rnd.Intn(250)) * time.Millisecond
		cl.seq++
		value := fmt.Sprintf("c%d-%d", cl.id, cl.seq)
		// Creates outweigh deletes, so that most names exist most of the time and
		// the nodes stay nearly full.
		switch {
		case kind < 30:
			cl.createPod(agent, podName, value)
		case kind < 50:
			cl.updatePod(ctx, agent, podName, value)
		case kind < 60:
			cl.deletePod(agent, podName)
		case kind < 68:
			cl.createDeployment(agent, depName, value)
		case kind < 78:
			cl.updateDeployment(ctx, agent, depName, value)
		case kind < 97:
			cl.scaleDeployment(agent, depName, replicas)
		default:
			cl.deleteDeployment(agent, depName)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// chaosPod is the clients' pod: busybox sleeping, a small CPU request, and a grace
// period of one second (busybox's PID 1 ignores SIGTERM).
func chaosPod(name, value string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{
			"name": name, "namespace": chaosNamespace,
			"labels":      map[string]string{"chaos": "pod"},
			"annotations": map[string]string{chaosValueAnnotation: value},
		},
		"spec": chaosPodSpec(),
	}
}

func chaosPodSpec() map[string]any {
	return map[string]any{
		"terminationGracePeriodSeconds": 1,
		"containers": []any{map[string]any{
			"name": "main", "image": "localhost/busybox:latest", "imagePullPolicy": "IfNotPresent",
			"command":   []string{"sleep", "100000"},
			"resources": map[string]any{"requests": map[string]string{"cpu": chaosPodCPU, "memory": "8Mi"}},
		}},
	}
}

// chaosDeployment is the clients' Deployment of chaosPod-like replicas, with the
// default replica count (1).
func chaosDeployment(name, value string) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"name": name, "namespace": chaosNamespace,
			"annotations": map[string]string{chaosValueAnnotation: value},
		},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]string{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]string{"app": name, "chaos": "deployment"}},
				"spec":     chaosPodSpec(),
			},
		},
	}
}

const (
	podsPath        = "/api/v1/namespaces/" + chaosNamespace + "/pods"
	deploymentsPath = "/apis/apps/v1/namespaces/" + chaosNamespace + "/deployments"
)

func (cl *chaosClient) createPod(agent int, name, value string) {
	op := cl.op(agent, "create", "pods", name, value)
	cl.do(&op, http.MethodPost, podsPath, "application/json", chaosPod(name, value))
}

// createDeployment creates a Deployment of one replica (spec.replicas left to its
// default, as the checker assumes of a create); scales change it.
func (cl *chaosClient) createDeployment(agent int, name, value string) {
	op := cl.op(agent, "create", "deployments", name, value)
	cl.do(&op, http.MethodPost, deploymentsPath, "application/json", chaosDeployment(name, value))
}

// updatePod reads the pod from the agent's replica and writes it back with a new
// value, with the resourceVersion it read: a stale read makes the write fail with 409
// Conflict, which is optimistic concurrency doing its job. A failed read, or one
// that finds the object being deleted, sends no write and records nothing.
func (cl *chaosClient) updatePod(ctx context.Context, agent int, name, value string) {
	cl.update(ctx, agent, "pods", podsPath+"/"+url.PathEscape(name), name, value)
}

func (cl *chaosClient) updateDeployment(ctx context.Context, agent int, name, value string) {
	cl.update(ctx, agent, "deployments", deploymentsPath+"/"+url.PathEscape(name), name, value)
}

func (cl *chaosClient) update(ctx context.Context, agent int, resource, path, name, value string) {
	var obj map[string]any
	if err := cl.get(ctx, agent, path, &obj); err != nil {
		return
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil || meta["deletionTimestamp"] != nil {
		// Being deleted: a user does not update it, and an update acknowledged
		// on its way out would be followed by its removal, which the history
		// could not explain. A delete after the read fails the write with 409
		// (the resourceVersion changed).
		return
	}
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
	}
	ann[chaosValueAnnotation] = value
	meta["annotations"] = ann
	op := cl.op(agent, "update", resource, name, value)
	cl.do(&op, http.MethodPut, path, "application/json", obj)
}

// scaleDeployment patches the scale subresource, as `kubectl scale` does.
func (cl *chaosClient) scaleDeployment(agent int, name string, replicas int) {
	op := cl.op(agent, "scale", "deployments", name, strconv.Itoa(replicas))
	cl.do(&op, http.MethodPatch, deploymentsPath+"/"+url.PathEscape(name)+"/scale",
		"application/merge-patch+json", map[string]any{"spec": map[string]any{"replicas": replicas}})
}

func (cl *chaosClient) deletePod(agent int, name string) {
	op := cl.op(agent, "delete", "pods", name, "")
	cl.do(&op, http.MethodDelete, podsPath+"/"+url.PathEscape(name), "application/json",
		map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 1})
}

func (cl *chaosClient) deleteDeployment(agent int, name string) {
	op := cl.op(agent, "delete", "deployments", name, "")
	cl.do(&op, http.MethodDelete, deploymentsPath+"/"+url.PathEscape(name), "application/json",
		map[string]any{"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"})
}

func (cl *chaosClient) op(agent int, verb, resource, name, value string) chaos.Op {
	return chaos.Op{Client: cl.id, Agent: agent, Verb: verb, Resource: resource,
		Namespace: chaosNamespace, Name: name, Value: value}
}

// get decodes GET path from the agent's own replica.
func (cl *chaosClient) get(ctx context.Context, agent int, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, chaosRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.hosts[agent].apiURL()+path, nil)
	if err != nil {
		return err
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.Unmarshal(body, v)
}

// do sends one write, fills in op's times and outcome, and records it. The request
// gets its own deadline, not the run's context: a write under way when the run ends
// must finish (or time out) and be recorded like any other.
func (cl *chaosClient) do(op *chaos.Op, method, path, contentType string, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err) // our own maps: a bug
	}
	ctx, cancel := context.WithTimeout(context.Background(), chaosRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, cl.hosts[op.Agent].apiURL()+path, bytes.NewReader(b))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", contentType)
	op.Start = time.Now()
	resp, err := cl.http.Do(req)
	var respBody []byte
	if err == nil {
		respBody, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	op.End = time.Now()
	if resp != nil {
		op.Status = resp.StatusCode
	}
	op.Outcome, op.Err = classify(resp, respBody, err)
	if resp != nil && resp.StatusCode/100 == 2 {
		var meta struct {
			Metadata struct {
				UID             string `json:"uid"`
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if json.Unmarshal(respBody, &meta) == nil {
			op.UID, op.ResourceVersion = meta.Metadata.UID, meta.Metadata.ResourceVersion
			if op.Resource == "pods" {
				cl.seen(op.UID)
			}
		}
	}
	cl.history.add(*op)
}

// classify turns a response (or the error that stood in for it) into an outcome.
// A 2xx is ok. A 4xx is a definite refusal (nothing was written): Conflict,
// NotFound, AlreadyExists, Invalid. A 5xx or a broken or timed-out exchange may have
// been committed, so it is unknown; except that a failure to connect at all (the
// agent is down, or the host cut off before the request left) sent nothing, and is
// therefore a definite failure.
func classify(resp *http.Response, body []byte, err error) (chaos.Outcome, string) {
	if err != nil {
		var opErr *net.OpError
		if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &opErr) && opErr.Op == "dial" {
			return chaos.Failed, err.Error()
		}
		return chaos.Unknown, err.Error()
	}
	msg := ""
	if resp.StatusCode/100 != 2 {
		var status struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &status) == nil && status.Message != "" {
			msg = resp.Status + ": " + status.Message
		} else {
			msg = resp.Status + ": " + truncate(string(body), 200)
		}
	}
	switch {
	case resp.StatusCode/100 == 2:
		return chaos.OK, ""
	case resp.StatusCode == http.StatusRequestTimeout:
		return chaos.Unknown, msg
	case resp.StatusCode/100 == 4:
		return chaos.Failed, msg
	default:
		return chaos.Unknown, msg
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TestChaosClassify: the outcomes the fault run's history records. A request that
// never reached the agent failed; one that may have reached it without an answer is
// unknown, as is any 5xx; a 4xx refused it; the status text is kept.
func TestChaosClassify(t *testing.T) {
	dialRefused := &url.Error{Op: "Post", URL: "https://h", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		err     error
		want    chaos.Outcome
		wantErr string
	}{
		{name: "created", status: 201, want: chaos.OK},
		{name: "conflict", status: 409, body: `{"kind":"Status","message":"pods \"a\" already exists"}`, want: chaos.Failed, wantErr: `409 Conflict: pods "a" already exists`},
		{name: "not found", status: 404, body: "no such thing", want: chaos.Failed, wantErr: "404 Not Found: no such thing"},
		{name: "too many requests", status: 429, want: chaos.Failed},
		{name: "request timeout", status: 408, want: chaos.Unknown},
		{name: "no leader", status: 503, want: chaos.Unknown},
		{name: "internal error", status: 500, want: chaos.Unknown},
		{name: "connection refused", err: dialRefused, want: chaos.Failed, wantErr: "connection refused"},
		{name: "deadline", err: &url.Error{Op: "Post", URL: "https://h", Err: context.DeadlineExceeded}, want: chaos.Unknown, wantErr: "deadline exceeded"},
		{name: "connection reset", err: &url.Error{Op: "Post", URL: "https://h", Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}, want: chaos.Unknown, wantErr: "reset"},
		{name: "eof", err: io.ErrUnexpectedEOF, want: chaos.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.err == nil {
				resp = &http.Response{StatusCode: tc.status, Status: fmt.Sprintf("%d %s", tc.status, http.StatusText(tc.status))}
			}
			got, msg := classify(resp, []byte(tc.body), tc.err)
			if got != tc.want {
				t.Errorf("outcome %q, want %q (message %q)", got, tc.want, msg)
			}
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("message %q, want it to contain %q", msg, tc.wantErr)
			}
			if got == chaos.OK && msg != "" {
				t.Errorf("message %q for an ok request", msg)
			}
		})
	}
}
