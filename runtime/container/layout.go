//go:build linux

package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// pauseID is the libcontainer ID and cgroup leaf of a sandbox's pause. The
// leading underscore keeps it out of the DNS-label container names.
const pauseID = "_pause"

// sandboxDir and its parts: the whole on-disk layout in one place (the
// package doc draws it).
func (m *Manager) sandboxDir(id string) string { return filepath.Join(m.cfg.Root, id) }

func stateRoot(sbDir string) string       { return filepath.Join(sbDir, "state") }
func pauseRootfs(sbDir string) string     { return filepath.Join(sbDir, "pause-rootfs") }
func shmDir(sbDir string) string          { return filepath.Join(sbDir, "shm") }
func privateDir(sbDir string) string      { return filepath.Join(sbDir, "private") }
func sandboxMetaPath(sbDir string) string { return filepath.Join(sbDir, "sandbox.json") }
func containersDir(sbDir string) string   { return filepath.Join(sbDir, "containers") }
func containerDir(sbDir, n string) string { return filepath.Join(containersDir(sbDir), n) }
func containerMetaPath(dir string) string { return filepath.Join(dir, "meta.json") }

// containerEnvPath is where a container's environment is kept for Exec and
// re-adoption: on the sandbox's private tmpfs, since it may hold Secrets'
// values (env valueFrom secretKeyRef), which must never reach the node's
// disk, as containerd keeps its OCI specs under /run.
func containerEnvPath(sbDir, name string) string {
	return filepath.Join(privateDir(sbDir), name+".env.json")
}
func containerRootfs(dir string) string { return filepath.Join(dir, "rootfs") }
func containerUpper(dir string) string  { return filepath.Join(dir, "upper") }
func containerWork(dir string) string   { return filepath.Join(dir, "work") }
func nsPath(pid int, ns string) string  { return fmt.Sprintf("/proc/%d/ns/%s", pid, ns) }

// ignoreNotExist treats "already gone" as success: every removal here must
// be idempotent.
func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ms is the time since t in milliseconds, for log lines.
func ms(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// validateID accepts pod UIDs: what libcontainer accepts as an ID and a
// cgroup and directory name can hold, nothing that walks out of Root.
func validateID(id string) error {
	if id == "" || len(id) > 128 || id == "." || id == ".." {
		return fmt.Errorf("%w: sandbox id %q", ErrInvalid, id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: sandbox id %q: only letters, digits, '-', '_' and '.'", ErrInvalid, id)
		}
	}
	return nil
}

// validateName accepts container names as Kubernetes does: DNS-1123 labels
// (lower-case alphanumerics and '-', at most 63, alphanumeric at both
// ends).
func validateName(name string) error {
	ok := name != "" && len(name) <= 63
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%w: container name %q is not a DNS-1123 label", ErrInvalid, name)
	}
	return nil
}

// sandboxMeta is what CreateSandbox was asked for, kept so that a Manager
// re-adopting the sandbox knows it (whether the PID namespace is shared,
// and which namespaces are the host's, decide how containers join them).
type sandboxMeta struct {
	ID        string `json:"id"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Hostname  string `json:"hostname"`
	SharePID  bool   `json:"sharePID"`
	// HostNetwork, HostPID and HostIPC: the pod is in the agent's
	// namespace of that kind (network and UTS for HostNetwork).
	HostNetwork bool  `json:"hostNetwork,omitempty"`
	HostPID     bool  `json:"hostPID,omitempty"`
	HostIPC     bool  `json:"hostIPC,omitempty"`
	ShmSize     int64 `json:"shmSizeBytes"`
	// UserNamespace is the pod's own user namespace, which containers
	// started after a restart join too; nil for the host's.
	UserNamespace *UserNamespace `json:"userNamespace,omitempty"`
	Created       time.Time      `json:"created"`
}

// containerMeta is what a re-adopted container needs and libcontainer does
// not keep: the process's environment, working dir and user (Exec runs
// with them), the attempt number and the log path. It is written without Env,
// which goes to containerEnvPath; a sandbox made before the private tmpfs
// existed keeps Env here, as it always did.
type containerMeta struct {
	Name       string    `json:"name"`
	Attempt    int       `json:"attempt"`
	Args       []string  `json:"args"`
	Env        []string  `json:"env"`
	WorkingDir string    `json:"workingDir"`
	StdoutPath string    `json:"stdoutPath,omitempty"`
	Started    time.Time `json:"started,omitzero"`
	// Identity is the resolved user: an exec runs as the container's main
	// process does (a container from before it has none, and was root).
	Identity Identity `json:"identity,omitzero"`
}

// writeJSONFile replaces path atomically (write, fsync, rename), so that a
// crash leaves either the old or the new file, never half of one.
func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// UpperDir is the writable layer (the overlay's upper dir) of the
// container name in sandbox id: what the container wrote to its root file
// system, which the eviction manager measures as the container's local
// ephemeral storage. The path is built whether or not the container exists.
func (m *Manager) UpperDir(id, name string) string {
	return containerUpper(containerDir(m.sandboxDir(id), name))
}
