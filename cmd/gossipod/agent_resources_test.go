package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/agent"
	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime"
)

// resourcesConfig parses an agent command line as `gossipod agent` does,
// on a machine of 4 CPUs, 8 GiB and 32768 pids, and returns the agent.Config or the
// error the agent would refuse to start with.
func resourcesConfig(t *testing.T, args ...string) (agent.Config, error) {
	t.Helper()
	cmd := agentCommand()
	var cfg agent.Config
	cmd.Action = func(c *cli.Context) error {
		var err error
		var cleanup func()
		cfg, cleanup, err = agentConfig(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return err
		}
		defer cleanup()
		return applyResources(c, &cfg, runtime.MachineInfo{MilliCPU: 4000, MemoryBytes: 8 << 30, MaxPID: 32768})
	}
	app := &cli.App{Name: "gossipod", Commands: []*cli.Command{cmd}}
	err := app.Run(append([]string{"gossipod", "agent", "--name", "n1"}, args...))
	return cfg, err
}

// The node's allocatable is its capacity minus --system-reserved, or what
// --cpu and --memory say; capacity stays the machine's.
func TestAgentAllocatableFlags(t *testing.T) {
	machine := api.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}
	for _, tc := range []struct {
		name    string
		args    []string
		want    api.Resources
		wantErr string
	}{
		{"defaults: all of the machine", nil, machine, ""},
		{"system-reserved", []string{"--system-reserved", "cpu=500m,memory=1Gi,pid=1000"},
			api.Resources{MilliCPU: 3500, Memory: 7 << 30, Pods: 110}, ""},
		{"cpu and memory outright", []string{"--cpu", "2", "--memory", "3Gi"},
			api.Resources{MilliCPU: 2000, Memory: 3 << 30, Pods: 110}, ""},
		{"cpu outright, memory reserved", []string{"--cpu", "2", "--system-reserved", "memory=512Mi"},
			api.Resources{MilliCPU: 2000, Memory: 8<<30 - 512<<20, Pods: 110}, ""},
		{"max-pods", []string{"--max-pods", "20", "--system-reserved", "pid=100"},
			api.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 20}, ""},
		{"cpu twice", []string{"--cpu", "2", "--system-reserved", "cpu=1"}, api.Resources{}, "--cpu and --system-reserved cpu=... both given"},
		{"memory twice", []string{"--memory", "2Gi", "--system-reserved", "memory=1Gi"}, api.Resources{}, "--memory and --system-reserved memory=... both given"},
		{"too much reserved", []string{"--system-reserved", "memory=9Gi"}, api.Resources{}, "leaves no memory for pods (capacity 8Gi)"},
		{"bad key", []string{"--system-reserved", "disk=1Gi"}, api.Resources{}, `cannot reserve "disk"`},
		{"all the pids", []string{"--system-reserved", "pid=32768"}, api.Resources{}, "--system-reserved pid=32768: leaves no processes for pods (the node has 32768"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := resourcesConfig(t, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Allocatable
			got.EphemeralStorage = 0 // the data dir's file system's, tested with --eviction-hard
			if got != tc.want {
				t.Errorf("allocatable %+v, want %+v", got, tc.want)
			}
			if cfg.Capacity.MilliCPU != 4000 || cfg.Capacity.Memory != 8<<30 {
				t.Errorf("capacity %+v, want the machine's", cfg.Capacity)
			}
		})
	}
}

// --pod-pids-limit is -1 or positive, and --raft-dir reaches the agent's
// configuration (its own validation is agent's).
func TestAgentNodeProtectionFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"--pod-pids-limit", "-1"}, ""},
		{[]string{"--pod-pids-limit", "100"}, ""},
		{[]string{"--pod-pids-limit", "0"}, "--pod-pids-limit 0: must be -1 (no per-pod limit) or a positive number of processes"},
		{[]string{"--pod-pids-limit", "-5"}, "--pod-pids-limit -5"},
		{[]string{"--raft-dir", "/mnt/fast/raft"}, ""},
	} {
		cfg, err := resourcesConfig(t, tc.args...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
		}
		if len(tc.args) == 2 && tc.args[0] == "--raft-dir" && cfg.RaftDir != tc.args[1] {
			t.Errorf("--raft-dir %s: RaftDir %q", tc.args[1], cfg.RaftDir)
		}
	}
}
