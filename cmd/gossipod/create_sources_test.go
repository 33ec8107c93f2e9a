package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// sourceFixtures writes the files the source tests read into a new
// directory and returns it.
func sourceFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "app.properties", "color=blue\nsize=3\n")
	writeFile(t, dir, "bin.dat", "\xff\xfd\x00binary")
	writeFile(t, dir, "utf8.txt", "héllo wörld")
	// A directory: only its regular files are taken.
	writeFile(t, dir, "conf/a.conf", "a=1\n")
	writeFile(t, dir, "conf/b.conf", "b=2\n")
	writeFile(t, dir, "conf/sub/c.conf", "in a subdirectory\n")
	if err := os.Symlink("a.conf", filepath.Join(dir, "conf", "link.conf")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "conf", "pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "badkeys/good", "ok")
	writeFile(t, dir, "badkeys/has space", "not a key")
	writeFile(t, dir, "dupdir/app.properties", "the same name\n")
	writeFile(t, dir, "binary/bin.dat", "\xfe")
	// Env files: a BOM, comments, blank lines, leading blanks, values
	// taken verbatim, a KEY alone from the environment.
	writeFile(t, dir, "envs/good.env", "\xEF\xBB\xBFK1=v1\n# a comment\n\n   K2=  spaced  \nK3=a=b\nGOSSIPOD_TEST_FROM_ENV\nGOSSIPOD_TEST_UNSET\nEMPTY=\n\t# indented comment\n")
	writeFile(t, dir, "envs/second.env", "K4=v4\n")
	writeFile(t, dir, "envs/dup.env", "K1=again\n")
	writeFile(t, dir, "envs/badname.env", "OK=1\n1BAD=x\n")
	writeFile(t, dir, "envs/badutf8.env", "# fine\nK=\xff\n")
	writeFile(t, dir, "envs/quotes.env", "Q=\"quoted\"\nS='single'\n")
	return dir
}

// TestDataSources: the sources of create configmap and create secret
// generic build, key for key and error for error, what kubectl's own code
// builds from the same command line; the ConfigMap cases also say what
// that is.
func TestDataSources(t *testing.T) {
	dir := sourceFixtures(t)
	t.Setenv("GOSSIPOD_TEST_FROM_ENV", "from the environment")
	os.Unsetenv("GOSSIPOD_TEST_UNSET")
	p := func(name string) string { return filepath.Join(dir, name) }
	cases := []struct {
		name string
		src  dataSources
		// For the ConfigMap: its data and binaryData, or its error.
		data    map[string]string
		binary  map[string][]byte
		wantErr string
	}{
		{name: "literals", src: dataSources{literals: []string{"a=b", "c=d=e", "f=x,y", "g=", "h= spaced "}},
			data: map[string]string{"a": "b", "c": "d=e", "f": "x,y", "g": "", "h": " spaced "}},
		{name: "literal without =", src: dataSources{literals: []string{"novalue"}},
			wantErr: "invalid literal source novalue, expected key=value"},
		{name: "literal without key", src: dataSources{literals: []string{"=v"}},
			wantErr: "invalid literal source =v, expected key=value"},
		{name: "literal with invalid key", src: dataSources{literals: []string{"a b=c"}},
			wantErr: `"a b" is not a valid key name for a ConfigMap: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`},
		{name: "literal key ..", src: dataSources{literals: []string{"..=c"}},
			wantErr: `".." is not a valid key name for a ConfigMap: must not be '..'`},
		{name: "duplicate literals", src: dataSources{literals: []string{"a=b", "a=c"}},
			wantErr: `cannot add key "a", another key by that name already exists in Data for ConfigMap "cfg"`},
		{name: "file under its basename", src: dataSources{files: []string{p("app.properties")}},
			data: map[string]string{"app.properties": "color=blue\nsize=3\n"}},
		{name: "file under a key", src: dataSources{files: []string{"props=" + p("app.properties")}},
			data: map[string]string{"props": "color=blue\nsize=3\n"}},
		{name: "UTF-8 file is data", src: dataSources{files: []string{p("utf8.txt")}},
			data: map[string]string{"utf8.txt": "héllo wörld"}},
		{name: "binary file is binaryData", src: dataSources{files: []string{p("bin.dat")}},
			data: map[string]string{}, binary: map[string][]byte{"bin.dat": []byte("\xff\xfd\x00binary")}},
		{name: "directory: its regular files", src: dataSources{files: []string{p("conf")}},
			data: map[string]string{"a.conf": "a=1\n", "b.conf": "b=2\n"}},
		{name: "directory with a key", src: dataSources{files: []string{"k=" + p("conf")}},
			wantErr: "cannot give a key name for a directory path"},
		{name: "directory with a file that is no key", src: dataSources{files: []string{p("badkeys")}},
			wantErr: `"has space" is not a valid key name for a ConfigMap`},
		{name: "missing file", src: dataSources{files: []string{p("missing")}},
			wantErr: "error reading " + p("missing") + ": no such file or directory"},
		{name: "two = in a file source", src: dataSources{files: []string{"a=b=" + p("app.properties")}},
			wantErr: "key names or file paths cannot contain '='"},
		{name: "file source without key", src: dataSources{files: []string{"=" + p("app.properties")}},
			wantErr: "key name for file path " + p("app.properties") + " missing"},
		{name: "file source without path", src: dataSources{files: []string{"key="}},
			wantErr: "file path for key name key missing"},
		{name: "file and literal of one key", src: dataSources{files: []string{p("app.properties")}, literals: []string{"app.properties=x"}},
			wantErr: `cannot add key "app.properties", another key by that name already exists in Data for ConfigMap "cfg"`},
		{name: "file and directory of one key", src: dataSources{files: []string{p("app.properties"), p("dupdir")}},
			wantErr: `cannot add key "app.properties", another key by that name already exists in Data for ConfigMap "cfg"`},
		{name: "binary file and literal of one key", src: dataSources{files: []string{p("bin.dat")}, literals: []string{"bin.dat=x"}},
			wantErr: `cannot add key "bin.dat", another key by that name already exists in BinaryData for ConfigMap "cfg"`},
		{name: "two binary files of one key", src: dataSources{files: []string{p("bin.dat"), p("binary")}},
			wantErr: `cannot add key "bin.dat", another key by that name already exists in BinaryData for ConfigMap "cfg"`},
		{name: "files, directories and literals", src: dataSources{files: []string{p("conf"), "p=" + p("app.properties"), p("bin.dat")}, literals: []string{"x=y"}},
			data:   map[string]string{"a.conf": "a=1\n", "b.conf": "b=2\n", "p": "color=blue\nsize=3\n", "x": "y"},
			binary: map[string][]byte{"bin.dat": []byte("\xff\xfd\x00binary")}},
		{name: "env file", src: dataSources{envFiles: []string{p("envs/good.env")}},
			data: map[string]string{"K1": "v1", "K2": "  spaced  ", "K3": "a=b", "GOSSIPOD_TEST_FROM_ENV": "from the environment",
				"GOSSIPOD_TEST_UNSET": "", "EMPTY": ""}},
		{name: "env file values verbatim", src: dataSources{envFiles: []string{p("envs/quotes.env")}},
			data: map[string]string{"Q": `"quoted"`, "S": "'single'"}},
		{name: "two env files", src: dataSources{envFiles: []string{p("envs/second.env"), p("envs/quotes.env")}},
			data: map[string]string{"K4": "v4", "Q": `"quoted"`, "S": "'single'"}},
		{name: "env files of one key", src: dataSources{envFiles: []string{p("envs/good.env"), p("envs/dup.env")}},
			wantErr: `cannot add key "K1", another key by that name already exists in Data for ConfigMap "cfg"`},
		{name: "env file with an invalid name", src: dataSources{envFiles: []string{p("envs/badname.env")}},
			wantErr: `"1BAD" is not a valid key name: a valid environment variable name must consist of alphabetic characters`},
		{name: "env file not UTF-8", src: dataSources{envFiles: []string{p("envs/badutf8.env")}},
			wantErr: "env file " + p("envs/badutf8.env") + " contains invalid utf8 bytes at line 2: [75 61 255]"},
		{name: "env file is a directory", src: dataSources{envFiles: []string{p("envs")}},
			wantErr: "env config file cannot be a directory"},
		{name: "missing env file", src: dataSources{envFiles: []string{p("nothing.env")}},
			wantErr: "error reading " + p("nothing.env") + ": no such file or directory"},
		{name: "env file and literal", src: dataSources{envFiles: []string{p("envs/second.env")}, literals: []string{"a=b"}},
			wantErr: "from-env-file cannot be combined with from-file or from-literal"},
		{name: "env file and file", src: dataSources{envFiles: []string{p("envs/second.env")}, files: []string{p("app.properties")}},
			wantErr: "from-env-file cannot be combined with from-file or from-literal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, ns := range []string{"", "team-a"} {
				cm, err := buildConfigMap("cfg", ns, tc.src)
				kcm, _, kerr := kubectlConfigMap("cfg", ns, tc.src, kubectlFlags{}, "")
				if tc.wantErr != "" {
					if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
						t.Fatalf("configmap: error %v, want one starting %q", err, tc.wantErr)
					}
				} else {
					if err != nil {
						t.Fatalf("configmap: %v", err)
					}
					binary := tc.binary
					if binary == nil {
						binary = map[string][]byte{}
					}
					if !reflect.DeepEqual(cm.Data, tc.data) || !reflect.DeepEqual(cm.BinaryData, binary) {
						t.Errorf("configmap: data %q, binaryData %q; want %q, %q", cm.Data, cm.BinaryData, tc.data, binary)
					}
					if cm.Namespace != ns {
						t.Errorf("configmap: namespace %q, want %q", cm.Namespace, ns)
					}
				}
				if errString(err) != errString(kerr) {
					t.Errorf("configmap: error %q, kubectl's %q", errString(err), errString(kerr))
				} else if err == nil && !reflect.DeepEqual(cm, kcm) {
					t.Errorf("configmap:\n %#v\nkubectl builds\n %#v", cm, kcm)
				}

				for _, typ := range []string{"", "example.com/custom"} {
					s, err := buildSecret("cfg", ns, typ, tc.src)
					ks, _, kerr := kubectlSecretGeneric("cfg", ns, typ, tc.src, kubectlFlags{}, "")
					if errString(err) != errString(kerr) {
						t.Errorf("secret: error %q, kubectl's %q", errString(err), errString(kerr))
					} else if err == nil && !reflect.DeepEqual(s, ks) {
						t.Errorf("secret:\n %#v\nkubectl builds\n %#v", s, ks)
					}
					if err == nil && len(s.Data) != len(tc.data)+len(tc.binary) {
						t.Errorf("secret: %d keys, want %d (all in data)", len(s.Data), len(tc.data)+len(tc.binary))
					}
				}
			}
		})
	}
}

// buildConfigMap is what create configmap does with its sources.
func buildConfigMap(name, ns string, src dataSources) (*api.ConfigMap, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	return configMapFromSources(name, ns, src)
}

// buildSecret is what create secret generic does with its sources.
func buildSecret(name, ns, typ string, src dataSources) (*api.Secret, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	return secretFromSources(name, ns, api.SecretType(typ), src)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestSecretSourceErrors: the Secret's own words for a bad or duplicate
// key, which differ from the ConfigMap's.
func TestSecretSourceErrors(t *testing.T) {
	dir := sourceFixtures(t)
	cases := []struct {
		src     dataSources
		wantErr string
	}{
		{dataSources{literals: []string{"a b=c"}}, `"a b" is not valid key name for a Secret a valid config key must consist of alphanumeric characters`},
		{dataSources{literals: []string{"a=b", "a=c"}}, "cannot add key a, another key by that name already exists"},
		// Literals come first for a Secret: the file is the duplicate.
		{dataSources{files: []string{filepath.Join(dir, "bin.dat")}, literals: []string{"bin.dat=x"}}, "cannot add key bin.dat, another key by that name already exists"},
		{dataSources{envFiles: []string{filepath.Join(dir, "envs")}}, "env secret file cannot be a directory"},
	}
	for _, tc := range cases {
		_, err := buildSecret("s", "", "", tc.src)
		if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
			t.Errorf("%+v: error %v, want one starting %q", tc.src, err, tc.wantErr)
		}
	}
}
