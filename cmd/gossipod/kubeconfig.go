package main

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/api/client/kubeconfig"
	"github.com/gossipod/gossipod/pki"
)

// defaultTokenFile is where deploy/provision.sh and the systemd unit keep the
// cluster token, so that `gossipod kubeconfig` on an agent's machine needs no
// flags.
const defaultTokenFile = "/etc/gossipod/token"

func kubeconfigCommand() *cli.Command {
	return &cli.Command{
		Name:  "kubeconfig",
		Usage: "print a kubeconfig for the cluster (its HTTPS address, its CA and a client certificate), for gossipod and kubectl",
		Description: `Run it where the cluster token is (an agent's machine), or give the token:
   gossipod kubeconfig > ~/.kube/config
   gossipod kubeconfig --token-file token --server https://10.0.0.11:7948 --role view --user alice
The client certificate is signed by the cluster CA, which only the token's holders can
do; it is valid for --ttl. The token itself is not written into the kubeconfig.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "token-file", Usage: "file holding the cluster token (default: " + defaultTokenFile + ", unless --token or GOSSIPOD_TOKEN is set)", EnvVars: env("token-file")},
			&cli.StringFlag{Name: "token", Usage: "the cluster token", EnvVars: env("token")},
			&cli.StringFlag{Name: "server", Usage: "the API address written into the kubeconfig (default: --addr, or https://127.0.0.1:7948)"},
			&cli.StringFlag{Name: "user", Usage: "user name of the client certificate", Value: "admin"},
			&cli.StringFlag{Name: "role", Usage: "role of the client certificate: view, edit or admin", Value: "admin"},
			&cli.DurationFlag{Name: "ttl", Usage: "how long the client certificate is valid", Value: 365 * 24 * time.Hour},
		},
		Action: runKubeconfig,
	}
}

func runKubeconfig(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("kubeconfig takes no arguments, got %q", c.Args().Slice())}
	}
	token, err := clientToken(c)
	if err != nil {
		return err
	}
	group, ok := map[string]string{"admin": pki.AdminGroup, "edit": pki.EditGroup, "view": pki.ViewGroup}[c.String("role")]
	if !ok {
		return usageError{fmt.Errorf("--role %q: want view, edit or admin", c.String("role"))}
	}
	if c.String("user") == "" || c.Duration("ttl") <= 0 {
		return usageError{fmt.Errorf("--user must be set and --ttl positive")}
	}
	server, err := kubeconfigServer(c)
	if err != nil {
		return usageError{err}
	}
	ca, err := pki.NewCA(token)
	if err != nil {
		return err
	}
	leaf, err := ca.Issue(pki.Request{CommonName: c.String("user"), Organization: []string{group}, Client: true, TTL: c.Duration("ttl")}, time.Now())
	if err != nil {
		return err
	}
	out, err := kubeconfig.Render(kubeconfig.Credentials{Server: server, CAPEM: ca.CertPEM(), CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM})
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	_, err = c.App.Writer.Write(out)
	return err
}

// clientToken finds the cluster token for a client command as the agent
// does (--token, --token-file or their environment variables), falling back
// to the agents' default token file.
func clientToken(c *cli.Context) (string, error) {
	token, err := agentToken(c)
	switch {
	case err != nil:
		return "", err
	case token != "":
		if err := pki.CheckToken(token); err != nil {
			return "", usageError{fmt.Errorf("--token: %w", err)}
		}
		return token, nil
	}
	token, err = pki.ReadTokenFile(defaultTokenFile)
	if err != nil {
		return "", fmt.Errorf("%w (run this where the cluster token is, or give --token-file)", err)
	}
	return token, nil
}

// kubeconfigServer is the HTTPS URL the kubeconfig names.
func kubeconfigServer(c *cli.Context) (string, error) {
	server := c.String("server")
	if server == "" && c.IsSet("addr") {
		server = c.String("addr")
	}
	if server == "" {
		return client.DefaultAddr, nil
	}
	if u, err := url.Parse(server); err != nil || u.Scheme == "" {
		// host or host:port, as --addr takes it.
		if _, _, err := net.SplitHostPort(server); err != nil {
			server = net.JoinHostPort(server, "7948")
		}
		server = "https://" + server
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("--server %q: want https://HOST:PORT (the API is HTTPS only)", server)
	}
	return server, nil
}
