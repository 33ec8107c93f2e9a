package image

import (
	"errors"
	"slices"
	"testing"

	"github.com/gossipod/gossipod/api"
)

func TestResolveCommand(t *testing.T) {
	img := func(entrypoint, cmd, env []string, wd string) *Image {
		return &Image{Reference: "example/app:1", Config: ImageConfig{Entrypoint: entrypoint, Cmd: cmd, Env: env, WorkingDir: wd}}
	}
	s := func(v ...string) []string { return v }
	env := func(kv ...string) []api.EnvVar {
		var out []api.EnvVar
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, api.EnvVar{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	const path = defaultPath
	tests := []struct {
		name     string
		img      *Image
		c        api.Container
		wantArgv []string
		wantEnv  []string
		wantWD   string
		wantErr  error
	}{
		// The four cases of Kubernetes' command/args table.
		{name: "neither: image ENTRYPOINT and CMD",
			img: img(s("/ep"), s("a", "b"), nil, ""), wantArgv: s("/ep", "a", "b")},
		{name: "command only: image CMD is dropped",
			img: img(s("/ep"), s("a"), nil, ""), c: api.Container{Command: s("/cmd")}, wantArgv: s("/cmd")},
		{name: "args only: image ENTRYPOINT with the args",
			img: img(s("/ep"), s("a"), nil, ""), c: api.Container{Args: s("x", "y")}, wantArgv: s("/ep", "x", "y")},
		{name: "both: image ignored",
			img: img(s("/ep"), s("a"), nil, ""), c: api.Container{Command: s("/cmd"), Args: s("x")}, wantArgv: s("/cmd", "x")},
		{name: "no ENTRYPOINT: CMD alone",
			img: img(nil, s("sh"), nil, ""), wantArgv: s("sh")},
		{name: "no ENTRYPOINT, args replace CMD",
			img: img(nil, s("sh"), nil, ""), c: api.Container{Args: s("echo", "hi")}, wantArgv: s("echo", "hi")},
		{name: "nothing to run", img: img(nil, nil, nil, ""), wantErr: ErrNoCommand},
		{name: "args only and no ENTRYPOINT or CMD",
			img: img(nil, nil, nil, ""), c: api.Container{Args: s("x")}, wantArgv: s("x")},
		{name: "empty command slice is unset",
			img: img(nil, s("sh"), nil, ""), c: api.Container{Command: []string{}}, wantArgv: s("sh")},

		// Environment.
		{name: "image env, default PATH added when missing",
			img: img(nil, s("sh"), s("A=1"), ""), wantEnv: s(path, "A=1")},
		{name: "image PATH kept",
			img: img(nil, s("sh"), s("PATH=/bin", "A=1"), ""), wantEnv: s("PATH=/bin", "A=1")},
		{name: "container overrides in place and extends in order",
			img: img(nil, s("sh"), s("PATH=/bin", "A=1", "B=2"), ""),
			c:   api.Container{Env: env("B", "two", "C", "3", "A", "")}, wantEnv: s("PATH=/bin", "A=", "B=two", "C=3")},
		{name: "env values expand earlier container vars, not image ones or later ones",
			img:     img(nil, s("sh"), s("IMG=i"), ""),
			c:       api.Container{Env: env("X", "x", "Y", "$(X)-$(IMG)-$(Z)", "Z", "z")},
			wantEnv: s(path, "IMG=i", "X=x", "Y=x-$(IMG)-$(Z)", "Z=z")},

		// Expansion in command and args.
		{name: "command and args expand container env",
			img:      img(nil, nil, nil, ""),
			c:        api.Container{Command: s("echo", "$(GREETING)"), Args: s("$(WHO)!", "$$(WHO)", "$(NOPE)"), Env: env("GREETING", "hello", "WHO", "world")},
			wantArgv: s("echo", "hello", "world!", "$(WHO)", "$(NOPE)")},
		{name: "image CMD is not expanded",
			img: img(nil, s("echo", "$(A)"), nil, ""), c: api.Container{Env: env("A", "a")}, wantArgv: s("echo", "$(A)")},

		// Working directory.
		{name: "workingDir default /", img: img(nil, s("sh"), nil, ""), wantWD: "/"},
		{name: "workingDir from image", img: img(nil, s("sh"), nil, "/srv"), wantWD: "/srv"},
		{name: "workingDir from container wins", img: img(nil, s("sh"), nil, "/srv"), c: api.Container{WorkingDir: "/work"}, wantWD: "/work"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.Name = "c"
			// The image must not be modified through the result.
			before := *tc.img
			before.Config.Cmd = slices.Clone(tc.img.Config.Cmd)
			argv, env, wd, err := ResolveCommand(tc.img, &tc.c)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantArgv != nil && !slices.Equal(argv, tc.wantArgv) {
				t.Errorf("argv = %q, want %q", argv, tc.wantArgv)
			}
			if tc.wantEnv != nil && !slices.Equal(env, tc.wantEnv) {
				t.Errorf("env = %q, want %q", env, tc.wantEnv)
			}
			if tc.wantWD != "" && wd != tc.wantWD {
				t.Errorf("workDir = %q, want %q", wd, tc.wantWD)
			}
			if len(argv) > 0 {
				argv[len(argv)-1] = "mutated"
			}
			if !slices.Equal(tc.img.Config.Cmd, before.Config.Cmd) {
				t.Errorf("image Cmd changed to %q", tc.img.Config.Cmd)
			}
		})
	}
	if _, _, _, err := ResolveCommand(nil, &api.Container{}); err == nil {
		t.Error("nil image accepted")
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": "", "LONG_NAME": "long"}
	mapping := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "a"},
		{"x$(A)y$(A)z", "xayaz"},
		{"$(EMPTY)", ""},
		{"$(LONG_NAME)", "long"},
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$$$(A)", "$a"},
		{"$A", "$A"},
		{"$", "$"},
		{"a$", "a$"},
		{"$(A", "$(A"},
		{"$(", "$("},
		{"$()", "$()"},
		{"${A}", "${A}"},
		{"$(A)$(", "a$("},
	}
	for _, tc := range tests {
		if got := expand(tc.in, mapping); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
