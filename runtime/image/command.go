package image

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gossipod/gossipod/api"
)

// defaultPath is the PATH a process gets when its image sets none, as
// containerd and docker give it.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ResolveCommand computes what a container runs, by Kubernetes' rules
// (kubelet plus containerd):
//
//   - argv: the container's command replaces the image's ENTRYPOINT and its
//     args replace the image's CMD; when command is set the image's CMD is
//     not used at all, even without args. Empty argv is ErrNoCommand.
//   - env: the image's Env (with a default PATH if it has none), each
//     variable overridden in place or extended by the container's env, in
//     order. A container env value may use $(NAME) of the container's
//     earlier variables.
//   - command and args may use $(NAME) of the container's env ("$$" is a
//     literal "$"; unknown names stay as written), as Kubernetes expands
//     them; the image's variables are not expanded, as in Kubernetes.
//   - workDir: the container's workingDir, else the image's, else "/".
func ResolveCommand(img *Image, c *api.Container) (argv []string, env []string, workDir string, err error) {
	if img == nil || c == nil {
		return nil, nil, "", errors.New("ResolveCommand: nil image or container")
	}
	// Step 1: the container's environment, each value expanded against the
	// variables defined before it.
	defined := map[string]string{}
	lookup := func(n string) (string, bool) { v, ok := defined[n]; return v, ok }
	var cenv []string
	for _, e := range c.Env {
		v := expand(e.Value, lookup)
		defined[e.Name] = v
		cenv = append(cenv, e.Name+"="+v)
	}

	// Step 2: argv.
	expandAll := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = expand(s, lookup)
		}
		return out
	}
	switch {
	case len(c.Command) > 0:
		argv = append(expandAll(c.Command), expandAll(c.Args)...)
	case len(c.Args) > 0:
		argv = append(slices.Clone(img.Config.Entrypoint), expandAll(c.Args)...)
	default:
		argv = append(slices.Clone(img.Config.Entrypoint), img.Config.Cmd...)
	}
	if len(argv) == 0 {
		return nil, nil, "", fmt.Errorf("container %q: %w: it sets no command and image %q has no ENTRYPOINT or CMD", c.Name, ErrNoCommand, img.Reference)
	}

	// Step 3: the environment.
	env = mergeEnv(nil, []string{defaultPath})
	env = mergeEnv(env, img.Config.Env)
	env = mergeEnv(env, cenv)

	// Step 4: the working directory.
	workDir = "/"
	switch {
	case c.WorkingDir != "":
		workDir = c.WorkingDir
	case img.Config.WorkingDir != "":
		workDir = img.Config.WorkingDir
	}
	return argv, env, workDir, nil
}

// mergeEnv overrides the variables of base that add sets again, in place,
// and appends the others in add's order.
func mergeEnv(base, add []string) []string {
	out := slices.Clone(base)
	pos := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		pos[k] = i
	}
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := pos[k]; ok {
			out[i] = kv
			continue
		}
		pos[k] = len(out)
		out = append(out, kv)
	}
	return out
}
