package agent

import (
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
)

func TestParseReserved(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Reserved
		wantErr string
	}{
		{"", Reserved{}, ""},
		{"cpu=500m,memory=1Gi,pid=1000", Reserved{MilliCPU: 500, Memory: 1 << 30, Pids: 1000}, ""},
		{" memory = 512Mi , cpu=1 ", Reserved{MilliCPU: 1000, Memory: 512 << 20}, ""},
		{"pid=1k", Reserved{Pids: 1000}, ""},
		{"cpu=0", Reserved{}, ""},
		{"cpu", Reserved{}, "want resource=quantity pairs"},
		{"cpu=", Reserved{}, "want resource=quantity pairs"},
		{"ephemeral-storage=1Gi", Reserved{}, `cannot reserve "ephemeral-storage", only cpu, memory, pid`},
		{"gpu=1", Reserved{}, `cannot reserve "gpu"`},
		{"cpu=1,cpu=2", Reserved{}, "cpu given twice"},
		{"memory=lots", Reserved{}, "--system-reserved memory=lots"},
		{"memory=-1Gi", Reserved{}, "must not be negative"},
		{"pid=1.5", Reserved{}, "whole number of processes"},
	} {
		got, err := ParseReserved(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseReserved(%q) error %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseReserved(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		// What String prints parses back to the same reservation.
		if again, err := ParseReserved(got.String()); err != nil || again != got {
			t.Errorf("ParseReserved(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
		}
	}
}

func TestAllocatableFrom(t *testing.T) {
	capacity := api.Resources{MilliCPU: 4000, Memory: 8 << 30, Pods: 110}
	for _, tc := range []struct {
		name     string
		capacity api.Resources
		reserved Reserved
		want     api.Resources
		wantErr  string
	}{
		{"nothing reserved", capacity, Reserved{}, capacity, ""},
		{"cpu and memory", capacity, Reserved{MilliCPU: 500, Memory: 1 << 30},
			api.Resources{MilliCPU: 3500, Memory: 7 << 30, Pods: 110}, ""},
		{"pids do not touch cpu, memory or pod slots", capacity, Reserved{Pids: 1000}, capacity, ""},
		{"all the cpu", capacity, Reserved{MilliCPU: 4000}, api.Resources{}, "--system-reserved cpu=4: leaves no CPU for pods (capacity 4)"},
		{"more memory than there is", capacity, Reserved{Memory: 16 << 30}, api.Resources{}, "--system-reserved memory=16Gi: leaves no memory for pods (capacity 8Gi)"},
		{"a zero capacity is Validate's to report", api.Resources{Memory: 1 << 30}, Reserved{}, api.Resources{Memory: 1 << 30}, ""},
	} {
		got, err := AllocatableFrom(tc.capacity, tc.reserved)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: AllocatableFrom = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestPodsPidsLimit(t *testing.T) {
	for _, tc := range []struct {
		pidMax, reserved, want int64
		wantErr                bool
	}{
		{32768, 0, 0, false},
		{32768, 1000, 31768, false},
		{4194304, 4096, 4190208, false},
		{32768, 32768, 0, true},
		{32768, 40000, 0, true},
	} {
		got, err := PodsPidsLimit(tc.pidMax, Reserved{Pids: tc.reserved})
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("PodsPidsLimit(%d, pid=%d) = %d, %v; want %d (error %v)", tc.pidMax, tc.reserved, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRaftDir(t *testing.T) {
	for _, tc := range []struct {
		dataDir, raftDir, want, wantErr string
	}{
		{"/var/lib/gossipod", "", "/var/lib/gossipod/raft", ""},
		{"/var/lib/gossipod", "/mnt/raft-disk/gossipod", "/mnt/raft-disk/gossipod", ""},
		{"/var/lib/gossipod", "raft", "", "--raft-dir \"raft\": must be an absolute path"},
		{"/var/lib/gossipod", "/mnt/../raft/", "", "must be a clean path (\"/raft\")"},
	} {
		c := Config{DataDir: tc.dataDir, RaftDir: tc.raftDir}
		err := validateRaftDir(tc.raftDir)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("--raft-dir %q: error %v, want one containing %q", tc.raftDir, err, tc.wantErr)
			}
			continue
		}
		if err != nil || c.raftDir() != tc.want {
			t.Errorf("--raft-dir %q: %q, %v; want %q", tc.raftDir, c.raftDir(), err, tc.want)
		}
	}
}
