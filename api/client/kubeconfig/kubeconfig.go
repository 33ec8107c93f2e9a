// Package kubeconfig reads and writes kubeconfig files for gossipod's
// clients with kubectl's rules: --kubeconfig, else the files of $KUBECONFIG
// merged (the first file wins each name), else ~/.kube/config; --context,
// else the current context; paths relative to the file that holds them.
//
// It implements those rules itself over the v1 file format instead of
// importing k8s.io/client-go's tools/clientcmd, whose package init costs
// every process of this binary — every pod's pause process too — about
// 340 kB more anonymous memory (2.3 MB → 2.7 MB measured). Its tests check
// it against clientcmd, case by case, so the two agree.
//
// It is kept out of package client so the agent, which also uses the
// client, does not depend on kubeconfig files.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gossipod/gossipod/api/client"
)

// Options are the command-line settings that choose a kubeconfig and
// what to take from it, as kubectl's flags of the same names do.
type Options struct {
	// Path is --kubeconfig: the only file read, which must exist. Empty:
	// the files of $KUBECONFIG (a list, merged), else ~/.kube/config.
	Path string
	// Context is --context; empty means the file's current-context.
	Context string
	// Server, when set (--addr), replaces the cluster's server URL but
	// keeps its CA and the user's credentials: any agent of a cluster
	// serves its API with the same CA.
	Server string
}

// Files is the list of kubeconfig files Load reads for opts, in order of
// precedence, as kubectl chooses them: --kubeconfig, else every file of
// $KUBECONFIG, else ~/.kube/config. It reads $KUBECONFIG and $HOME now,
// not at program start as clientcmd's RecommendedHomeFile does.
func Files(opts Options) []string {
	if opts.Path != "" {
		return []string{opts.Path}
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		var files []string
		seen := map[string]bool{}
		for _, f := range filepath.SplitList(env) {
			if f != "" && !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		return files
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return []string{filepath.Join(home, ".kube", "config")}
}

// Load returns the client settings of opts' kubeconfig: the server, CA,
// client certificate and token of the chosen context. With no kubeconfig
// anywhere it returns a Config with only opts.Server and an empty Source,
// and the client then explains a 401 or an unknown certificate authority
// by the missing kubeconfig. A file named with --kubeconfig that does not
// exist, a file that does not parse, or a context that is not there is an
// error, as in kubectl. A server that is not https gets neither TLS
// settings nor credentials, as kubectl sends none over plain HTTP.
func Load(opts Options) (client.Config, error) {
	m, err := readFiles(opts)
	if err != nil {
		return client.Config{}, fmt.Errorf("load kubeconfig: %w", err)
	}
	if m.empty() {
		return client.Config{Server: opts.Server}, nil
	}
	contextName := opts.Context
	if contextName == "" {
		contextName = m.currentContext
	}
	source := describe(m, contextName, opts)
	if contextName == "" {
		return client.Config{}, fmt.Errorf("%s has no current-context: choose one with --context (one of %s)", source, contextNames(m))
	}
	ctx, ok := m.contexts[contextName]
	if !ok {
		return client.Config{}, fmt.Errorf("%s: no context %q (there are: %s)", source, contextName, contextNames(m))
	}
	cl, ok := m.clusters[ctx.Cluster]
	if !ok && opts.Server == "" {
		return client.Config{}, fmt.Errorf("%s: the context's cluster %q is not in the kubeconfig", source, ctx.Cluster)
	}
	if cl == nil {
		cl = &cluster{}
	}
	cfg := client.Config{Server: cl.Server, Source: source}
	if opts.Server != "" {
		cfg.Server = opts.Server
	}
	if cfg.Server == "" {
		return client.Config{}, fmt.Errorf("%s: cluster %q has no server", source, ctx.Cluster)
	}
	if cl.ProxyURL != "" {
		return client.Config{}, fmt.Errorf("%s: cluster %q has a proxy-url, which gossipod does not support; use HTTPS_PROXY", source, ctx.Cluster)
	}
	if !strings.HasPrefix(cfg.Server, "https://") {
		return cfg, nil // clientcmd's rule: no TLS, no credentials over plain HTTP
	}
	cfg.CAData, cfg.CAFile = cl.CertificateAuthorityData, cl.CertificateAuthority
	cfg.ServerName, cfg.Insecure = cl.TLSServerName, cl.InsecureSkipTLSVerify
	if u, ok := m.users[ctx.User]; ok {
		// A context whose user is not there is anonymous, as in kubectl.
		if err := supported(u); err != nil {
			return client.Config{}, fmt.Errorf("%s: %w", source, err)
		}
		cfg.CertData, cfg.CertFile = u.ClientCertificateData, u.ClientCertificate
		cfg.KeyData, cfg.KeyFile = u.ClientKeyData, u.ClientKey
		cfg.BearerToken, cfg.BearerTokenFile = u.Token, u.TokenFile
	}
	return cfg, nil
}

// supported refuses the ways of authenticating that gossipod's agents do
// not accept or its client does not run, rather than sending no
// credentials and leaving the user with a bare 401.
func supported(u *user) error {
	const use = "use a client certificate or a token (`gossipod kubeconfig`)"
	switch {
	case len(u.Exec) > 0 && string(u.Exec) != "null":
		return fmt.Errorf("the user's exec credential plugin is not supported by gossipod; %s", use)
	case len(u.AuthProvider) > 0 && string(u.AuthProvider) != "null":
		return fmt.Errorf("the user's auth-provider is not supported by gossipod; %s", use)
	case u.Username != "" || u.Password != "":
		return fmt.Errorf("basic authentication (username/password) is not supported by gossipod agents; %s", use)
	case u.Impersonate != "":
		return fmt.Errorf("impersonation (as) is not supported by gossipod agents; %s", use)
	}
	return nil
}

// describe names a kubeconfig and context for error messages: the file
// the context came from when known, else the files read.
func describe(m *merged, contextName string, opts Options) string {
	where := strings.Join(Files(opts), string(filepath.ListSeparator))
	if ctx, ok := m.contexts[contextName]; ok {
		where = ctx.origin
	}
	if contextName == "" {
		return fmt.Sprintf("kubeconfig %q", where)
	}
	return fmt.Sprintf("kubeconfig %q, context %q", where, contextName)
}

// contextNames lists a config's contexts for an error message.
func contextNames(m *merged) string {
	if len(m.contexts) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m.contexts))
	for n := range m.contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Names of the cluster, user and context of the kubeconfig Render writes.
const (
	ClusterName = "gossipod"
	UserName    = "admin"
	ContextName = "gossipod"
)

// Credentials are what a kubeconfig of a gossipod cluster holds: the
// HTTPS address of an agent, the cluster CA, and a client certificate and
// key or a bearer token (or both).
type Credentials struct {
	Server string
	CAPEM  []byte
	// CertPEM and KeyPEM are the user's client certificate and key.
	CertPEM []byte
	KeyPEM  []byte
	// Token is a bearer token, for credentials made with `token create`.
	Token string
}

// ErrIncomplete is returned by Render for credentials a client could not
// use: no server, no CA, or neither a certificate nor a token.
var ErrIncomplete = errors.New("incomplete kubeconfig credentials")

// Render returns a kubeconfig in YAML with one cluster "gossipod", one
// user "admin" and one context "gossipod" (the current one) joining them,
// with the certificates embedded as data, so the file works wherever it is
// copied — what `gossipod kubeconfig` prints.
func Render(c Credentials) ([]byte, error) {
	switch {
	case c.Server == "":
		return nil, fmt.Errorf("%w: no server URL", ErrIncomplete)
	case len(c.CAPEM) == 0:
		return nil, fmt.Errorf("%w: no cluster CA", ErrIncomplete)
	case len(c.CertPEM) == 0 && c.Token == "":
		return nil, fmt.Errorf("%w: neither a client certificate nor a token", ErrIncomplete)
	case (len(c.CertPEM) == 0) != (len(c.KeyPEM) == 0):
		return nil, fmt.Errorf("%w: a client certificate needs its key", ErrIncomplete)
	}
	f := file{
		APIVersion:     "v1",
		Kind:           "Config",
		Clusters:       []namedCluster{{Name: ClusterName, Cluster: cluster{Server: c.Server, CertificateAuthorityData: c.CAPEM}}},
		Users:          []namedUser{{Name: UserName, User: user{ClientCertificateData: c.CertPEM, ClientKeyData: c.KeyPEM, Token: c.Token}}},
		Contexts:       []namedContext{{Name: ContextName, Context: context{Cluster: ClusterName, User: UserName}}},
		CurrentContext: ContextName,
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return out, nil
}
