//go:build linux

package container

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// Validate names every bad field; these need neither root nor a build.
func TestConfigValidate(t *testing.T) {
	exe, err := os.Executable() // the test binary: cgo, so dynamically linked
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // substrings of the error; none: valid
	}{
		{"relative root", func(c *Config) { c.Root = "containers" }, []string{"Root"}},
		{"empty root", func(c *Config) { c.Root = "" }, []string{"Root"}},
		{"relative cgroup root", func(c *Config) { c.CgroupRoot = "gossipod" }, []string{"CgroupRoot"}},
		{"cgroup root /", func(c *Config) { c.CgroupRoot = "/" }, []string{"CgroupRoot"}},
		{"unclean cgroup root", func(c *Config) { c.CgroupRoot = "/a/../gossipod" }, []string{"CgroupRoot"}},
		{"missing pause", func(c *Config) { c.PauseBinary = "/nonexistent/pause" }, []string{"PauseBinary"}},
		{"dynamic pause", func(c *Config) { c.PauseBinary = exe }, []string{"PauseBinary", "dynamically linked"}},
		{"not executable", func(c *Config) { c.PauseBinary = "/etc/hostname" }, []string{"PauseBinary"}},
		{"all wrong", func(c *Config) { c.Root, c.CgroupRoot, c.PauseBinary = "", "", "" }, []string{"Root", "CgroupRoot", "PauseBinary"}},
		{"static busybox", func(c *Config) { c.PauseBinary = "/bin/busybox" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.PauseBinary = "/bin/busybox" // static on Debian's busybox-static
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.want == nil {
				if _, statErr := os.Stat("/bin/busybox"); statErr != nil {
					t.Skip("no /bin/busybox (busybox-static)")
				}
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.CgroupRoot != "/gossipod" || c.Root == "" || c.PauseBinary == "" {
		t.Errorf("DefaultConfig = %+v", c)
	}
}

func TestValidateIDAndName(t *testing.T) {
	for _, tc := range []struct {
		s        string
		id, name bool
	}{
		{"0f8c2b8e-5b7d-4d6e-9d52-2b1c3f1e4a77", true, true},
		{"web", true, true},
		{"web-1", true, true},
		{"Web", true, false},
		{"_pause", true, false},
		{"-web", true, false},
		{"web-", true, false},
		{"a.b", true, false},
		{"..", false, false},
		{".", false, false},
		{"", false, false},
		{"a/b", false, false},
		{"a b", false, false},
		{strings.Repeat("a", 64), true, false},
	} {
		if err := validateID(tc.s); (err == nil) != tc.id || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("validateID(%q) = %v, want ok %v", tc.s, err, tc.id)
		}
		if err := validateName(tc.s); (err == nil) != tc.name || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("validateName(%q) = %v, want ok %v", tc.s, err, tc.name)
		}
	}
}

// resources maps Kubernetes' millicores and bytes as kubelet does.
func TestResources(t *testing.T) {
	for _, tc := range []struct {
		name           string
		spec           ContainerSpec
		quota          int64
		period, shares uint64
		memory         int64
	}{
		{"nothing", ContainerSpec{}, 0, 0, 2, 0},
		{"quarter CPU", ContainerSpec{MilliCPULimit: 250, MilliCPURequest: 250}, 25000, 100000, 256, 0},
		{"two CPUs", ContainerSpec{MilliCPULimit: 2000, MilliCPURequest: 1000}, 200000, 100000, 1024, 0},
		{"tiny limit gets the kernel's minimum quota", ContainerSpec{MilliCPULimit: 1, MilliCPURequest: 1}, 1000, 100000, 2, 0},
		{"memory", ContainerSpec{MemoryLimitBytes: 64 << 20}, 0, 0, 2, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := resources(tc.spec)
			if r.CpuQuota != tc.quota || r.CpuPeriod != tc.period || r.CpuShares != tc.shares || r.Memory != tc.memory {
				t.Errorf("quota %d period %d shares %d memory %d; want %d %d %d %d",
					r.CpuQuota, r.CpuPeriod, r.CpuShares, r.Memory, tc.quota, tc.period, tc.shares, tc.memory)
			}
			if len(r.Devices) == 0 || r.Devices[0].Allow {
				t.Error("device rules must start with deny-all")
			}
		})
	}
}
