// Package apparmor applies AppArmor to containers as containerd's CRI
// does: on a host whose kernel has AppArmor enabled, RuntimeDefault is a
// profile generated from Docker's and containerd's template and loaded with
// apparmor_parser the first time it is needed; Localhost names a profile
// the node's administrator loaded; Unconfined applies none. Host says what
// this node has; libcontainer applies the profile by name when it execs the
// container's program.
package apparmor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// DefaultProfileName is the name of gossipod's RuntimeDefault profile
// (containerd's is cri-containerd.apparmor.d, Docker's docker-default).
const DefaultProfileName = "gossipod-default"

// ErrNotSupported is containerd's error for a profile other than
// Unconfined asked of a host without AppArmor.
var ErrNotSupported = errors.New("apparmor is not supported")

// Host is this node's AppArmor, with the paths it reads: the zero value
// is a host without AppArmor. Real reads the machine's.
type Host struct {
	// Enabled is whether the kernel enforces AppArmor
	// (/sys/module/apparmor/parameters/enabled is Y).
	Enabled bool
	// ProfilesFile lists the loaded profiles, one "name (mode)" a line.
	ProfilesFile string
	// MacroDir holds the abstractions the default profile includes.
	MacroDir string
	// Parser is the apparmor_parser that loads the default profile.
	Parser string
}

// Real returns this machine's AppArmor. It counts as enabled when the
// kernel enforces it and apparmor_parser is installed (Debian's and
// Ubuntu's apparmor package), as Docker long required: without the
// parser the default profile cannot be loaded, and every container would
// be refused.
func Real() Host {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	parser, perr := exec.LookPath("apparmor_parser")
	if perr != nil {
		if _, err := os.Stat("/sbin/apparmor_parser"); err == nil {
			parser, perr = "/sbin/apparmor_parser", nil
		}
	}
	return Host{
		Enabled:      err == nil && len(b) > 0 && b[0] == 'Y' && perr == nil,
		ProfilesFile: "/sys/kernel/security/apparmor/profiles",
		MacroDir:     "/etc/apparmor.d",
		Parser:       parser,
	}
}

// Loaded reports whether a profile of that name is loaded.
func (h Host) Loaded(name string) (bool, error) {
	if name == "" {
		return false, errors.New("an empty apparmor profile name is not supported")
	}
	f, err := os.Open(h.ProfilesFile)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, name+" (") {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// DefaultProfile is the text of the RuntimeDefault profile named name for
// an agent running under daemonProfile (its /proc/self/attr/current).
func (h Host) DefaultProfile(name, daemonProfile string) (string, error) {
	var b bytes.Buffer
	if err := generate(loadData(name, h.MacroDir, daemonProfile), &b); err != nil {
		return "", err
	}
	return b.String(), nil
}

// LoadDefault makes sure the RuntimeDefault profile is loaded: generated
// and handed to apparmor_parser -Kr (replace, no cache) when it is not,
// as containerd's LoadDefaultProfile.
func (h Host) LoadDefault(name string) error {
	if ok, err := h.Loaded(name); err != nil || ok {
		return err
	}
	current, _ := os.ReadFile("/proc/self/attr/current") // unconfined when unreadable
	text, err := h.DefaultProfile(name, string(current))
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", name)
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	out, err := exec.Command(h.Parser, "-Kr", f.Name()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("load apparmor profile %s: parser error(%q): %w", name, strings.TrimSpace(string(out)), err)
	}
	return nil
}
