package kubeconfig

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// The kubeconfig file format, v1, as k8s.io/client-go's
// tools/clientcmd/api/v1 defines it: only the fields gossipod reads or
// writes, with the same JSON/YAML names. Fields it does not know are
// ignored, as clientcmd ignores them.

// file is one kubeconfig file.
type file struct {
	APIVersion     string         `json:"apiVersion,omitempty"`
	Kind           string         `json:"kind,omitempty"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
}

type namedCluster struct {
	Name    string  `json:"name"`
	Cluster cluster `json:"cluster"`
}

// cluster says where an API server is and how to verify it.
type cluster struct {
	Server                   string `json:"server"`
	TLSServerName            string `json:"tls-server-name,omitempty"`
	InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify,omitempty"`
	CertificateAuthority     string `json:"certificate-authority,omitempty"`
	CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
	// ProxyURL is read only to refuse it: gossipod does not proxy.
	ProxyURL string `json:"proxy-url,omitempty"`

	origin string // the file it came from
}

type namedUser struct {
	Name string `json:"name"`
	User user   `json:"user"`
}

// user is how a client proves who it is.
type user struct {
	ClientCertificate     string `json:"client-certificate,omitempty"`
	ClientCertificateData []byte `json:"client-certificate-data,omitempty"`
	ClientKey             string `json:"client-key,omitempty"`
	ClientKeyData         []byte `json:"client-key-data,omitempty"`
	Token                 string `json:"token,omitempty"`
	TokenFile             string `json:"tokenFile,omitempty"`
	// The rest are read only to refuse them.
	Impersonate  string          `json:"as,omitempty"`
	Username     string          `json:"username,omitempty"`
	Password     string          `json:"password,omitempty"`
	AuthProvider json.RawMessage `json:"auth-provider,omitempty"`
	Exec         json.RawMessage `json:"exec,omitempty"`

	origin string
}

type namedContext struct {
	Name    string  `json:"name"`
	Context context `json:"context"`
}

// context joins a cluster and a user.
type context struct {
	Cluster   string `json:"cluster"`
	User      string `json:"user"`
	Namespace string `json:"namespace,omitempty"`

	origin string
}

// merged is the kubeconfig of several files, by name, as clientcmd merges
// them: the first file that defines a name wins it whole, and the first
// file with a current-context sets it.
type merged struct {
	clusters       map[string]*cluster
	users          map[string]*user
	contexts       map[string]*context
	currentContext string
}

func (m *merged) empty() bool {
	return len(m.clusters) == 0 && len(m.users) == 0 && len(m.contexts) == 0 && m.currentContext == ""
}

// readFiles reads and merges the kubeconfig files of opts. A file named
// with --kubeconfig must exist; missing files of a list are skipped, as
// clientcmd skips them. Relative paths in a file are made absolute against
// the file's directory.
func readFiles(opts Options) (*merged, error) {
	m := &merged{clusters: map[string]*cluster{}, users: map[string]*user{}, contexts: map[string]*context{}}
	for _, name := range Files(opts) {
		data, err := os.ReadFile(name)
		if os.IsNotExist(err) && opts.Path == "" {
			continue
		}
		if err != nil {
			return nil, err
		}
		// Through JSON: the json tags apply and []byte fields are base64,
		// as in clientcmd.
		var f file
		if err := yaml.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("error loading config file %q: %w", name, err)
		}
		if (f.APIVersion != "" && f.APIVersion != "v1") || (f.Kind != "" && f.Kind != "Config") {
			return nil, fmt.Errorf("error loading config file %q: apiVersion %q, kind %q: want v1 Config", name, f.APIVersion, f.Kind)
		}
		dir, err := filepath.Abs(filepath.Dir(name))
		if err != nil {
			return nil, fmt.Errorf("config file %q: %w", name, err)
		}
		for _, c := range f.Clusters {
			if _, ok := m.clusters[c.Name]; !ok {
				c.Cluster.origin = name
				c.Cluster.CertificateAuthority = resolve(dir, c.Cluster.CertificateAuthority)
				m.clusters[c.Name] = &c.Cluster
			}
		}
		for _, u := range f.Users {
			if _, ok := m.users[u.Name]; !ok {
				u.User.origin = name
				u.User.ClientCertificate = resolve(dir, u.User.ClientCertificate)
				u.User.ClientKey = resolve(dir, u.User.ClientKey)
				u.User.TokenFile = resolve(dir, u.User.TokenFile)
				m.users[u.Name] = &u.User
			}
		}
		for _, c := range f.Contexts {
			if _, ok := m.contexts[c.Name]; !ok {
				c.Context.origin = name
				m.contexts[c.Name] = &c.Context
			}
		}
		if m.currentContext == "" {
			m.currentContext = f.CurrentContext
		}
	}
	return m, nil
}

// resolve makes a path from a kubeconfig absolute against the file's
// directory, as clientcmd's ResolveLocalPaths does.
func resolve(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}
