package runtime

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gossipod/gossipod/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// projectedResync is how often a running pod's configMap, secret,
// downwardAPI and projected volumes are compared with the state and
// rewritten when they differ (kubelet's periodic resync, shorter: the
// comparison reads only the pod's own small files).
const projectedResync = 2 * time.Second

// reasonCreateContainerConfigErr is kubelet's waiting reason for a
// container whose configuration (here a subPath) could not be prepared.
const reasonCreateContainerConfigErr = "CreateContainerConfigError"

// defaultProjectedMode is the mode of a projected file when neither the
// item nor the volume sets one (Kubernetes' 0644 for every kind).
const defaultProjectedMode int32 = 0o644

// isProjected reports whether the volume's files are written by the
// runtime from the state: configMap, secret, downwardAPI or projected.
func isProjected(v *api.Volume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

// onTmpfs reports whether the volume lives on a tmpfs of its own: a
// secret must never reach the node's disk, and kubelet keeps downwardAPI
// and projected volumes in memory as well.
func onTmpfs(v *api.Volume) bool {
	return v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil
}

func modeOr(m *int32, def int32) int32 {
	if m != nil {
		return *m
	}
	return def
}

// errSourceNotFound marks a missing ConfigMap or Secret: the pod waits
// and tries again.
var errSourceNotFound = errors.New("not found")

// volumePayload computes the files of a projected-family volume from the
// state, as kubelet's configmap, secret, downwardapi and projected volume
// plugins do. Errors are worded as kubelet's.
func (w *podWorker) volumePayload(v *api.Volume) (map[string]fileProjection, error) {
	pod := w.st.Pod
	out := map[string]fileProjection{}
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		return out, w.configMapFiles(out, s.Name, s.Items, s.Optional, modeOr(s.DefaultMode, defaultProjectedMode))
	case v.Secret != nil:
		s := v.Secret
		return out, w.secretFiles(out, s.SecretName, s.Items, s.Optional, modeOr(s.DefaultMode, defaultProjectedMode))
	case v.DownwardAPI != nil:
		s := v.DownwardAPI
		return out, w.downwardAPIFiles(out, pod, s.Items, modeOr(s.DefaultMode, defaultProjectedMode))
	case v.Projected != nil:
		mode := modeOr(v.Projected.DefaultMode, defaultProjectedMode)
		for _, src := range v.Projected.Sources {
			var err error
			switch {
			case src.ConfigMap != nil:
				err = w.configMapFiles(out, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode)
			case src.Secret != nil:
				err = w.secretFiles(out, src.Secret.Name, src.Secret.Items, src.Secret.Optional, mode)
			case src.DownwardAPI != nil:
				err = w.downwardAPIFiles(out, pod, src.DownwardAPI.Items, mode)
			case src.ServiceAccountToken != nil:
				err = w.serviceAccountTokenFile(out, src.ServiceAccountToken, mode)
			default:
				err = errors.New("projected source not supported: only configMap, secret, downwardAPI and serviceAccountToken sources are implemented")
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errors.New("not a configMap, secret, downwardAPI or projected volume")
}

// keyFiles maps keys to files: every key when items is empty, else the
// items (a missing key is an error unless optional).
func keyFiles(out map[string]fileProjection, data map[string][]byte, items []api.KeyToPath, optional bool, mode int32, missingKey string) error {
	if len(items) == 0 {
		for k, d := range data {
			out[k] = fileProjection{Data: d, Mode: mode}
		}
		return nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%s: %s", missingKey, it.Key)
		}
		out[it.Path] = fileProjection{Data: d, Mode: modeOr(it.Mode, mode)}
	}
	return nil
}

func (w *podWorker) configMapFiles(out map[string]fileProjection, name string, items []api.KeyToPath, optional *bool, mode int32) error {
	opt := optional != nil && *optional
	var cm *api.ConfigMap
	ok := false
	if w.r.cfg.ConfigMap != nil {
		cm, ok = w.r.cfg.ConfigMap(w.st.Pod.Namespace, name)
	}
	if !ok {
		if opt {
			return nil
		}
		return fmt.Errorf("configmap %q %w", name, errSourceNotFound)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return keyFiles(out, data, items, opt, mode, "configmap references non-existent config key")
}

func (w *podWorker) secretFiles(out map[string]fileProjection, name string, items []api.KeyToPath, optional *bool, mode int32) error {
	opt := optional != nil && *optional
	var s *api.Secret
	ok := false
	if w.r.cfg.Secret != nil {
		s, ok = w.r.cfg.Secret(w.st.Pod.Namespace, name)
	}
	if !ok {
		if opt {
			return nil
		}
		return fmt.Errorf("secret %q %w", name, errSourceNotFound)
	}
	return keyFiles(out, s.Data, items, opt, mode, "references non-existent secret key")
}

// downwardAPIFiles writes the pod's fields and its containers' resources.
func (w *podWorker) downwardAPIFiles(out map[string]fileProjection, pod *api.Pod, items []api.DownwardAPIVolumeFile, mode int32) error {
	for _, it := range items {
		var val string
		switch {
		case it.FieldRef != nil:
			switch it.FieldRef.FieldPath {
			case "metadata.name":
				val = pod.Name
			case "metadata.namespace":
				val = pod.Namespace
			case "metadata.uid":
				val = string(pod.UID)
			case "metadata.labels":
				val = formatMap(pod.Labels)
			case "metadata.annotations":
				val = formatMap(pod.Annotations)
			default:
				return fmt.Errorf("unable to extract field %s: unsupported fieldPath", it.FieldRef.FieldPath)
			}
		case it.ResourceFieldRef != nil:
			v, err := w.containerResource(pod, it.ResourceFieldRef)
			if err != nil {
				return err
			}
			val = v
		default:
			continue
		}
		out[it.Path] = fileProjection{Data: []byte(val), Mode: modeOr(it.Mode, mode)}
	}
	return nil
}

// formatMap is kubelet's fieldpath.FormatMap: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, m[k])
	}
	return b.String()
}

// containerResource is kubelet's ExtractContainerResourceValue: the
// request or limit divided by the divisor and rounded up; an unset limit
// is the node's capacity, as kubelet uses its allocatable.
func (w *podWorker) containerResource(pod *api.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	var c *api.Container
	for _, cs := range [][]api.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == ref.ContainerName {
				c = &cs[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("container %s not found", ref.ContainerName)
	}
	kind, res, _ := strings.Cut(ref.Resource, ".")
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	q, ok := list[corev1.ResourceName(res)]
	if !ok && kind == "limits" {
		m, err := Machine()
		if err != nil {
			return "", err
		}
		switch res {
		case "cpu":
			q, ok = *resource.NewMilliQuantity(m.MilliCPU, resource.DecimalSI), true
		case "memory":
			q, ok = *resource.NewQuantity(m.MemoryBytes, resource.BinarySI), true
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if !ok {
		return "0", nil
	}
	if res == "cpu" {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}

// setupProjected prepares a projected-family volume's directory (a tmpfs
// for secrets and the in-memory kinds) and writes its files.
func (w *podWorker) setupProjected(v *api.Volume) error {
	payload, err := w.volumePayload(v)
	if err != nil {
		return err
	}
	dir := w.volumeDir(v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if onTmpfs(v) {
		mounted, err := isMountPoint(dir)
		if err != nil {
			return err
		}
		if !mounted {
			if err := mountTmpfs(dir, 0); err != nil {
				return fmt.Errorf("mount tmpfs: %w", err)
			}
		}
	}
	gid := fsGroupOf(w.st.Pod)
	if gid != nil {
		// The group may read every file (kubelet's SetVolumeOwnership on a
		// read-only volume); in the payload, so that an unchanged volume
		// compares equal and is not written again.
		for p, f := range payload {
			f.Mode |= int32(fsGroupRO)
			payload[p] = f
		}
	}
	if _, err = writeAtomic(dir, payload, w.r.now()); err != nil {
		return err
	}
	if gid != nil {
		return setVolumeOwnership(dir, *gid, true)
	}
	return nil
}

// resyncProjected brings the pod's projected-family volumes up to date
// with the state, rewriting only those whose files changed. It returns
// whether the pod has any, so the worker comes back within projectedResync.
//
// A failure (the ConfigMap was deleted, say) leaves the files as they were,
// as kubelet does, and is reported as a FailedMount event once per
// distinct error.
func (w *podWorker) resyncProjected() bool {
	has := false
	for i := range w.st.Pod.Spec.Volumes {
		v := &w.st.Pod.Spec.Volumes[i]
		if !isProjected(v) {
			continue
		}
		has = true
		msg := ""
		if err := w.setupProjected(v); err != nil {
			msg = fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", v.Name, err)
		}
		if msg == w.resyncErrs[v.Name] {
			continue
		}
		if w.resyncErrs == nil {
			w.resyncErrs = map[string]string{}
		}
		w.resyncErrs[v.Name] = msg
		if msg != "" {
			w.events.record(w.st.Pod, api.EventTypeWarning, eventFailedMount, "%s", msg)
			w.log.Warn("updating volume", "volume", v.Name, "error", msg)
		}
	}
	return has
}

// podToken is a ServiceAccount token a pod's volume holds, with when it
// was issued and expires.
type podToken struct {
	token           string
	issued, expires time.Time
}

// Kubelet's token manager refreshes a token once 80 % of its life has
// passed, or once it is a day old, less a jitter of up to 10 s.
const (
	tokenRefreshFraction = 0.8
	tokenMaxAge          = 24 * time.Hour
)

// needsRefresh reports whether t is due for renewal at now.
func (t podToken) needsRefresh(now time.Time) bool {
	life := t.expires.Sub(t.issued)
	due := t.issued.Add(time.Duration(float64(life) * tokenRefreshFraction))
	if aged := t.issued.Add(tokenMaxAge); aged.Before(due) {
		due = aged
	}
	return !now.Before(due)
}

// serviceAccountTokenFile writes the pod's token for a projected
// serviceAccountToken source, as kubelet's projected volume plugin does:
// asked for once and kept until it is due for a refresh (the resync then
// rewrites the volume atomically). A failed refresh keeps the old token
// while it is valid; a token that cannot be had at all fails the volume
// with kubelet's "failed to fetch token" (the pod waits and retries).
func (w *podWorker) serviceAccountTokenFile(out map[string]fileProjection, src *corev1.ServiceAccountTokenProjection, mode int32) error {
	exp := api.DefaultProjectedTokenExpirationSeconds
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	key := fmt.Sprintf("%s\x00%d", src.Audience, exp)
	now := w.r.now()
	t, ok := w.tokens[key]
	if !ok || t.needsRefresh(now) {
		var err error
		if w.r.cfg.ServiceAccountToken == nil {
			err = errors.New("this node issues no service account tokens")
		} else {
			var fresh podToken
			fresh.token, fresh.expires, err = w.r.cfg.ServiceAccountToken(w.st.Pod, src.Audience, time.Duration(exp)*time.Second)
			if err == nil {
				fresh.issued = now
				t, ok = fresh, true
				if w.tokens == nil {
					w.tokens = map[string]podToken{}
				}
				w.tokens[key] = t
			}
		}
		if err != nil && (!ok || !now.Before(t.expires)) {
			return fmt.Errorf("failed to fetch token: %w", err)
		}
		if err != nil {
			w.log.Warn("refreshing the service account token; keeping the current one", "expires", t.expires, "error", err)
		}
	}
	out[src.Path] = fileProjection{Data: []byte(t.token), Mode: mode}
	return nil
}
