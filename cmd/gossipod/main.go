// Command gossipod is the gossipod agent and its command-line client.
//
// The same binary runs on every machine as `gossipod agent --join SEED`, and
// drives a cluster from anywhere with kubectl-like commands (`members`,
// `raft peers`, `get nodes`, …) against any agent's API, found and
// authenticated to with a kubeconfig as kubectl does (--addr picks
// another agent).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
	"github.com/gossipod/gossipod/api/client/kubeconfig"
	"github.com/gossipod/gossipod/runtime/container"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// Before anything else: the same binary is libcontainer's re-exec
	// ("gossipod init"). It is also every sandbox's pause process
	// ("/pause"), but that one never gets here: a C constructor in
	// runtime/container (pause_linux.c) takes it over before Go starts.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		container.Init()
	}
	if err := newApp().Run(os.Args); err != nil {
		if msg := errorMessage(err); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
		os.Exit(exitCode(err))
	}
}

func newApp() *cli.App {
	app := &cli.App{
		Name:                 "gossipod",
		Usage:                "a masterless container orchestrator: identical agents, gossip, Raft, pods",
		Version:              version,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name:        "addr",
				Usage:       "API address of any agent of the cluster (https://HOST:PORT); replaces the kubeconfig's server, keeping its CA and credentials",
				DefaultText: "the kubeconfig's server, else " + client.DefaultAddr,
				EnvVars:     []string{"GOSSIPOD_ADDR"},
			},
			&cli.StringFlag{
				Name:  "kubeconfig",
				Usage: "kubeconfig file to use (default: the files of $KUBECONFIG, merged, else ~/.kube/config)",
			},
			&cli.StringFlag{
				Name:  "context",
				Usage: "kubeconfig context to use (default: its current-context)",
			},
		},
		Commands: []*cli.Command{
			agentCommand(),
			membersCommand(),
			raftCommand(),
			getCommand(),
			applyCommand(),
			createCommand(),
			describeCommand(),
			deleteCommand(),
			scaleCommand(),
			exposeCommand(),
			rolloutCommand(),
			cordonCommand(),
			uncordonCommand(),
			drainCommand(),
			logsCommand(),
			execCommand(),
			imageCommand(),
			kubeconfigCommand(),
			tokenCommand(),
		},
		// Unknown commands and flags are usage errors, reported once.
		OnUsageError: onUsageError,
	}
	setUsageErrors(app.Commands)
	return app
}

// onUsageError reports a bad flag or argument in one line, with exit code
// 2, instead of urfave/cli's help page.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	return usageError{err}
}

// setUsageErrors gives every command and subcommand onUsageError, so a bad
// flag is reported the same way wherever it is.
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
		setUsageErrors(c.Subcommands)
	}
}

// usageError marks a mistake on the command line (exit code 2, as flag
// parsing errors conventionally have).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// newClient returns the API client the command line and environment
// select, as kubectl does: the kubeconfig of --kubeconfig, $KUBECONFIG or
// ~/.kube/config, its --context or current context; --addr/GOSSIPOD_ADDR,
// when given, replaces only the server URL. An --addr without a scheme is
// https, the agents' only protocol; an http:// one (test servers) gets no
// credentials, as kubectl sends none over plain HTTP.
func newClient(c *cli.Context) (*client.Client, error) {
	opts := kubeconfig.Options{Path: c.String("kubeconfig"), Context: c.String("context")}
	if c.IsSet("addr") {
		addr := c.String("addr")
		if addr == "" {
			return nil, usageError{errors.New("--addr is empty: want https://HOST:PORT")}
		}
		if !strings.Contains(addr, "://") {
			addr = "https://" + addr
		}
		opts.Server = addr
	}
	cfg, err := kubeconfig.Load(opts)
	if err != nil {
		return nil, err
	}
	if cfg.Server == "" {
		cfg.Server = client.DefaultAddr
	}
	cl, err := client.NewFromConfig(cfg)
	if err != nil {
		if c.IsSet("addr") {
			return nil, usageError{fmt.Errorf("--addr: %w", err)}
		}
		return nil, err
	}
	return cl, nil
}

// requestContext bounds one client request; the CLI never waits forever.
func requestContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Context, 30*time.Second)
}

// statusError makes a Status error print as kubectl prints it: "Error from
// server (NotFound): nodes "x" not found".
func statusError(err error) error {
	var se serverError
	if errors.As(err, &se) {
		return err
	}
	var ae *client.AuthError
	if errors.As(err, &ae) {
		return err // printed with its hint by errorMessage
	}
	var s *api.Status
	if errors.As(err, &s) {
		return serverError{status: s}
	}
	return err
}
