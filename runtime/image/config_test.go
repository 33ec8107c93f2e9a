package image

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr []string // substrings; none: valid
	}{
		{"default", func(*Config) {}, nil},
		{"insecure host:port and host", func(c *Config) { c.InsecureRegistries = []string{"10.0.0.5:5000", "registry.lan"} }, nil},
		{"nil logger", func(c *Config) { c.Logger = nil }, nil},
		{"empty root", func(c *Config) { c.Root = "" }, []string{"Root: must be set"}},
		{"relative root", func(c *Config) { c.Root = "images" }, []string{`Root "images": must be an absolute path`}},
		{"root with colon", func(c *Config) { c.Root = "/var/lib/a:b" }, []string{"overlayfs"}},
		{"scheme in registry", func(c *Config) { c.InsecureRegistries = []string{"http://reg:5000"} }, []string{`InsecureRegistries[0] "http://reg:5000"`, "without a scheme"}},
		{"path in registry", func(c *Config) { c.InsecureRegistries = []string{"ok:1", "reg:5000/v2"} }, []string{`InsecureRegistries[1]`, "no path"}},
		{"every problem at once", func(c *Config) { c.Root = ""; c.InsecureRegistries = []string{""} }, []string{"Root", "InsecureRegistries[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, lacks %q", err, w)
				}
			}
		})
	}
	if _, err := New(Config{Root: "relative"}); err == nil {
		t.Error("New did not validate its config")
	}
}
