package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadPIDStats(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		pidMax, threadsMax, loadavg  string
		wantMax, wantRunning, wantAv int64
		wantErr                      bool
	}{
		{"pid_max smaller", "32768\n", "63382\n", "0.20 0.18 0.12 1/80 11206\n", 32768, 80, 32688, false},
		{"threads-max smaller", "4194304\n", "127563\n", "1.00 2.00 3.00 4/127000 99\n", 127563, 127000, 563, false},
		{"no threads-max", "32768\n", "", "0 0 0 1/100 1\n", 32768, 100, 32668, false},
		{"short loadavg", "32768\n", "63382\n", "0.20 0.18 0.12\n", 0, 0, 0, true},
		{"bad task counts", "32768\n", "63382\n", "0.20 0.18 0.12 80 11206\n", 0, 0, 0, true},
		{"bad pid_max", "lots\n", "63382\n", "0 0 0 1/100 1\n", 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proc := t.TempDir()
			write := func(name, content string) {
				if content == "" {
					return
				}
				p := filepath.Join(proc, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write("sys/kernel/pid_max", tc.pidMax)
			write("sys/kernel/threads-max", tc.threadsMax)
			write("loadavg", tc.loadavg)
			s, err := readPIDStats(proc)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error, stats %+v", s)
				}
				return
			}
			if err != nil || s.MaxPID != tc.wantMax || s.Running != tc.wantRunning || s.Available() != tc.wantAv {
				t.Errorf("%+v (available %d), %v; want max %d running %d available %d", s, s.Available(), err, tc.wantMax, tc.wantRunning, tc.wantAv)
			}
		})
	}
	// This machine's own /proc reads.
	if s, err := ReadPIDStats(); err != nil || s.MaxPID <= 0 || s.Running <= 0 {
		t.Errorf("ReadPIDStats on this machine: %+v, %v", s, err)
	}
}
