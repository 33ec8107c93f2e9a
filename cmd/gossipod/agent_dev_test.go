package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/agent"
)

// devConfig parses an agent command line as `gossipod agent` does and
// returns the agent.Config it makes, and its cleanup.
func devConfig(t *testing.T, args ...string) (agent.Config, func()) {
	t.Helper()
	cmd := agentCommand()
	var cfg agent.Config
	var cleanup func()
	cmd.Action = func(c *cli.Context) error {
		var err error
		cfg, cleanup, err = agentConfig(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
		return err
	}
	app := &cli.App{Name: "gossipod", Commands: []*cli.Command{cmd}}
	if err := app.Run(append([]string{"gossipod", "agent"}, args...)); err != nil {
		t.Fatalf("agent %s: %v", strings.Join(args, " "), err)
	}
	return cfg, cleanup
}

// TestDevDataDir: --dev keeps its state and its token in --data-dir when
// given one (so a dev cluster can be restarted with its pods and tokens), and
// in a temporary directory removed at exit otherwise.
func TestDevDataDir(t *testing.T) {
	t.Setenv("GOSSIPOD_TOKEN", "")
	dir := filepath.Join(t.TempDir(), "dev")

	cfg, cleanup := devConfig(t, "--dev", "--name", "dev", "--data-dir", dir)
	if cfg.DataDir != dir {
		t.Errorf("--dev --data-dir %s: DataDir = %q", dir, cfg.DataDir)
	}
	if cfg.Token == "" || cfg.BindAddr != "127.0.0.1" || cfg.BootstrapExpect != 1 {
		t.Errorf("--dev: token %q, bind %q, bootstrap-expect %d", cfg.Token, cfg.BindAddr, cfg.BootstrapExpect)
	}
	cleanup()
	if _, err := os.Stat(filepath.Join(dir, "token")); err != nil {
		t.Fatalf("the token of a --dev cluster with --data-dir is gone after exit: %v", err)
	}
	again, cleanup := devConfig(t, "--dev", "--name", "dev", "--data-dir", dir)
	cleanup()
	if again.Token != cfg.Token {
		t.Errorf("restarted --dev cluster has another token: %q, was %q", again.Token, cfg.Token)
	}

	tmp, cleanup := devConfig(t, "--dev", "--name", "dev")
	if tmp.DataDir == "" || tmp.DataDir == dir || tmp.DataDir == agent.DefaultConfig().DataDir {
		t.Errorf("--dev without --data-dir: DataDir = %q, want a temporary directory", tmp.DataDir)
	}
	if _, err := os.Stat(filepath.Join(tmp.DataDir, "token")); err != nil {
		t.Errorf("--dev without --data-dir: token not written: %v", err)
	}
	cleanup()
	if _, err := os.Stat(tmp.DataDir); !os.IsNotExist(err) {
		t.Errorf("--dev without --data-dir: %s left behind (%v)", tmp.DataDir, err)
	}
}
