package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/clusterdns"
)

// Like kubelet, the runtime gives every container of a pod three files
// it manages, bind-mounted over the image's: /etc/hosts (so that
// "localhost" resolves, whatever the image has), /etc/hostname (the pod's
// hostname) and /etc/resolv.conf (the node's resolvers, kubelet's DNS
// policy "Default"). They live in the pod's directory, shared by its
// containers.

// managedFiles maps each managed file's path in a container to its name
// in Root/pods/<uid>/etc/.
var managedFiles = []struct{ dest, name string }{
	{"/etc/hosts", "hosts"},
	{"/etc/hostname", "hostname"},
	{"/etc/resolv.conf", "resolv.conf"},
}

// hostResolvConf lists where the node's resolvers are, best first: on a
// host with systemd-resolved, /etc/resolv.conf names a stub on 127.0.0.53
// that a pod's network namespace cannot reach, and kubelet reads the
// upstream file instead.
var hostResolvConf = []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"}

// nodeHostsFile is the node's /etc/hosts, which a hostNetwork pod gets
// (kubelet's nodeHostsFileContent); a variable for the tests.
var nodeHostsFile = "/etc/hosts"

func (w *podWorker) etcDir() string { return filepath.Join(w.podDir(), "etc") }

// hostname is the pod's hostname: spec.hostname, else the pod's name; on
// the host's network the node's, whose UTS namespace the pod shares.
func hostname(p *api.Pod) string {
	if p.Spec.HostNetwork {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	if p.Spec.Hostname != "" {
		return p.Spec.Hostname
	}
	return p.Name
}

// writeManagedFiles writes the pod's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, when they are missing or differ.
func (w *podWorker) writeManagedFiles() error {
	if err := os.MkdirAll(w.etcDir(), 0o755); err != nil {
		return err
	}
	name := hostname(w.st.Pod)
	hosts := "# Kubernetes-managed hosts file.\n" +
		"127.0.0.1\tlocalhost\n" +
		"::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\n" +
		"fe00::0\tip6-mcastprefix\n" +
		"fe00::1\tip6-allnodes\n" +
		"fe00::2\tip6-allrouters\n"
	if ip := w.st.PodIP; ip != "" {
		hosts += fmt.Sprintf("%s\t%s\n", ip, name)
	}
	if w.st.Pod.Spec.HostNetwork {
		// The node's own file, as kubelet gives a hostNetwork pod: the
		// pod resolves names as the node does.
		node, err := os.ReadFile(nodeHostsFile)
		if err != nil {
			return fmt.Errorf("read the node's hosts file for a hostNetwork pod: %w", err)
		}
		hosts = "# Kubernetes-managed hosts file (host network).\n" + string(node)
	}
	resolv := []byte{}
	for _, p := range hostResolvConf {
		if b, err := os.ReadFile(p); err == nil {
			resolv = b
			break
		}
	}
	if b, ok := w.clusterResolvConf(resolv); ok {
		resolv = b
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"hosts", []byte(hosts)},
		{"hostname", []byte(name + "\n")},
		{"resolv.conf", resolv},
	} {
		path := filepath.Join(w.etcDir(), f.name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.data) {
			continue
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// managedMounts are the bind mounts of the managed files for a container,
// except where the container mounts a volume of its own.
func (w *podWorker) managedMounts(c *api.Container) []mount {
	var out []mount
	for _, f := range managedFiles {
		own := false
		for _, vm := range c.VolumeMounts {
			if filepath.Clean(vm.MountPath) == f.dest {
				own = true
			}
		}
		if !own {
			out = append(out, mount{Source: filepath.Join(w.etcDir(), f.name), Destination: f.dest, IDMapped: true})
		}
	}
	return out
}

// clusterResolvConf is the pod's /etc/resolv.conf as kubelet forms it from
// its dnsPolicy and dnsConfig, the node's cluster DNS server and the
// host's resolvers (host): for ClusterFirst, the default, the cluster DNS
// alone with the search path <namespace>.svc.<domain> svc.<domain>
// <domain> and ndots:5. false leaves the host's file: the node has no
// cluster DNS (yet), or the host's could not be read.
func (w *podWorker) clusterResolvConf(host []byte) ([]byte, bool) {
	if w.r.cfg.ClusterDNS == nil {
		return nil, false
	}
	servers := w.r.cfg.ClusterDNS()
	if len(servers) == 0 {
		return nil, false
	}
	cfg, warnings, err := clusterdns.PodDNS(w.st.Pod, clusterdns.PodDNSParams{
		ClusterDNS: servers, ClusterDomain: w.r.cfg.ClusterDomain, HostResolvConf: host})
	if err != nil {
		w.log.Warn("form the pod's DNS configuration; it gets the node's resolvers", "error", err)
		return nil, false
	}
	for _, warn := range warnings {
		w.log.Warn("pod DNS configuration", "reason", warn.Reason, "message", warn.Message)
	}
	b := cfg.ResolvConf()
	return b, b != nil
}
