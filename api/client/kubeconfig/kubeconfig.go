// Package kubeconfig reads and writes kubeconfig files for gossipod's
// clients, with k8s.io/client-go's tools/clientcmd: the code kubectl itself
// uses, so a file works the same for `gossipod` and `kubectl` — the same
// search order, merging of KUBECONFIG lists, relative paths, contexts and
// validation. It is kept out of package client so the agent, which also
// uses client, does not depend on kubeconfig files.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

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
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
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
	return []string{filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
}

// Load returns the client settings of opts' kubeconfig: the server, CA,
// client certificate and token of the chosen context. With no kubeconfig
// anywhere it returns a Config with only opts.Server (or the default
// address) and an empty Source, and the client then explains a 401 or an
// unknown certificate authority by the missing kubeconfig. A file named
// with --kubeconfig that does not exist, a file that does not parse, or a
// context that is not there is an error, as in kubectl.
func Load(opts Options) (client.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{}
	if opts.Path != "" {
		rules.ExplicitPath = opts.Path
	} else {
		rules.Precedence = Files(opts)
	}
	raw, err := rules.Load()
	if err != nil {
		return client.Config{}, fmt.Errorf("load kubeconfig: %w", err)
	}
	if clientcmdapi.IsConfigEmpty(raw) {
		return client.Config{Server: opts.Server}, nil
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	overrides.ClusterInfo.Server = opts.Server
	contextName := opts.Context
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	source := describe(raw, contextName, rules.Precedence, opts.Path)
	if contextName == "" {
		return client.Config{}, fmt.Errorf("%s has no current-context: choose one with --context (one of %s)", source, contextNames(raw))
	}
	if _, ok := raw.Contexts[contextName]; !ok {
		return client.Config{}, fmt.Errorf("%s: no context %q (there are: %s)", source, contextName, contextNames(raw))
	}
	if user, ok := raw.AuthInfos[raw.Contexts[contextName].AuthInfo]; ok {
		if err := supported(user); err != nil {
			return client.Config{}, fmt.Errorf("%s: %w", source, err)
		}
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*raw, contextName, overrides, rules).ClientConfig()
	if err != nil {
		return client.Config{}, fmt.Errorf("%s: %w", source, err)
	}
	return client.Config{
		Server:          rc.Host,
		CAData:          rc.CAData,
		CAFile:          rc.CAFile,
		ServerName:      rc.ServerName,
		Insecure:        rc.Insecure,
		CertData:        rc.CertData,
		KeyData:         rc.KeyData,
		CertFile:        rc.CertFile,
		KeyFile:         rc.KeyFile,
		BearerToken:     rc.BearerToken,
		BearerTokenFile: rc.BearerTokenFile,
		Source:          source,
	}, nil
}

// supported refuses the ways of authenticating that gossipod's agents do
// not accept or its client does not run, rather than sending no
// credentials and leaving the user with a bare 401.
func supported(user *clientcmdapi.AuthInfo) error {
	const use = "use a client certificate or a token (`gossipod kubeconfig`)"
	switch {
	case user.Exec != nil:
		return fmt.Errorf("the user's exec credential plugin is not supported by gossipod; %s", use)
	case user.AuthProvider != nil:
		return fmt.Errorf("the user's auth-provider is not supported by gossipod; %s", use)
	case user.Username != "" || user.Password != "":
		return fmt.Errorf("basic authentication (username/password) is not supported by gossipod agents; %s", use)
	}
	return nil
}

// describe names a kubeconfig and context for error messages: the file
// the context came from when known, else the files read.
func describe(raw *clientcmdapi.Config, contextName string, files []string, explicit string) string {
	where := explicit
	if ctx, ok := raw.Contexts[contextName]; ok && ctx.LocationOfOrigin != "" {
		where = ctx.LocationOfOrigin
	}
	if where == "" {
		where = strings.Join(files, string(filepath.ListSeparator))
	}
	if contextName == "" {
		return fmt.Sprintf("kubeconfig %q", where)
	}
	return fmt.Sprintf("kubeconfig %q, context %q", where, contextName)
}

// contextNames lists a config's contexts for an error message.
func contextNames(raw *clientcmdapi.Config) string {
	if len(raw.Contexts) == 0 {
		return "none"
	}
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
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
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = c.Server
	cluster.CertificateAuthorityData = c.CAPEM
	cfg.Clusters[ClusterName] = cluster
	user := clientcmdapi.NewAuthInfo()
	user.ClientCertificateData = c.CertPEM
	user.ClientKeyData = c.KeyPEM
	user.Token = c.Token
	cfg.AuthInfos[UserName] = user
	ctx := clientcmdapi.NewContext()
	ctx.Cluster = ClusterName
	ctx.AuthInfo = UserName
	cfg.Contexts[ContextName] = ctx
	cfg.CurrentContext = ContextName
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return out, nil
}
