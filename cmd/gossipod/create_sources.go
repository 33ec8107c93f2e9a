package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kubectlutil "k8s.io/kubectl/pkg/util"

	"github.com/gossipod/gossipod/api"
)

// dataSources are the --from-literal, --from-file and --from-env-file of
// `create configmap` and `create secret generic`: where the object's keys
// and values come from, read on the client as kubectl create reads them,
// so that the same command line builds the same object.
type dataSources struct {
	// literals are KEY=VALUE; the value may hold further '='.
	literals []string
	// files are [KEY=]PATH: a file under its basename or KEY, or a
	// directory, whose regular files are each taken under their name.
	files []string
	// envFiles are files of KEY=VALUE lines (see readEnvFile).
	envFiles []string
}

// validate refuses what kubectl refuses before reading anything: env files
// are a source on their own.
func (s dataSources) validate() error {
	if len(s.envFiles) > 0 && (len(s.files) > 0 || len(s.literals) > 0) {
		return usageError{errors.New("from-env-file cannot be combined with from-file or from-literal")}
	}
	return nil
}

// forEachFile calls add with the key and path of every file the --from-file
// sources name, in order: a file under the key given or its basename; a
// directory's regular files (not its subdirectories, symlinks, devices or
// pipes), in name order, each under its name. The errors are kubectl's.
func forEachFile(sources []string, add func(key, path string) error) error {
	for _, source := range sources {
		key, path, err := kubectlutil.ParseFileSource(source)
		if err != nil {
			return err
		}
		info, err := os.Stat(path)
		if err != nil {
			return statError(path, err)
		}
		if !info.IsDir() {
			if err := add(key, path); err != nil {
				return err
			}
			continue
		}
		if strings.Contains(source, "=") {
			return errors.New("cannot give a key name for a directory path")
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("error listing files in %s: %v", path, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			if err := add(e.Name(), filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// statError is kubectl's "error reading PATH: REASON" for a source it
// cannot stat: the reason without the repeated path.
func statError(path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("error reading %s: %v", path, pe.Err)
	}
	return fmt.Errorf("error reading %s: %v", path, err)
}

// forEachEnvFile calls add with every KEY=VALUE of the --from-env-file
// sources, in order. dirErr is kubectl's refusal of a directory, which
// differs between ConfigMaps and Secrets.
func forEachEnvFile(sources []string, dirErr string, add func(key, value string) error) error {
	for _, source := range sources {
		info, err := os.Stat(source)
		if err != nil {
			return statError(source, err)
		}
		if info.IsDir() {
			return errors.New(dirErr)
		}
		if err := readEnvFile(source, add); err != nil {
			return err
		}
	}
	return nil
}

// utf8BOM is trimmed from the first line of an env file, as kubectl does.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readEnvFile reads an env file as kubectl's AddFromEnvFile does: one
// KEY=VALUE a line, the value taken verbatim (quotes and trailing blanks
// included) after the first '='; leading blanks, blank lines and lines
// starting with '#' skipped; a line of a KEY alone takes KEY's value from
// the environment (empty when unset); a KEY that is not a valid environment
// variable name, or a line that is not UTF-8, is refused with its line
// number. Unlike kubectl, which stops silently, a line longer than the
// scanner's 64 KiB is an error.
func readEnvFile(path string, add func(key, value string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for n := 0; scanner.Scan(); n++ {
		key, value, err := envFileLine(scanner.Bytes(), path, n)
		if err != nil {
			return err
		}
		if key == "" {
			continue // blank or a comment
		}
		if err := add(key, value); err != nil {
			return err
		}
	}
	if err := scanner.Err(); err != nil {
		return fmt.Errorf("error reading %s: %v", path, err)
	}
	return nil
}

// envFileLine is line n (from 0) of an env file: its key and value, or no
// key for a blank line or a comment.
func envFileLine(line []byte, path string, n int) (key, value string, err error) {
	if !utf8.Valid(line) {
		return "", "", fmt.Errorf("env file %s contains invalid utf8 bytes at line %d: %v", path, n+1, line)
	}
	if n == 0 {
		line = bytes.TrimPrefix(line, utf8BOM)
	}
	line = bytes.TrimLeftFunc(line, unicode.IsSpace)
	if len(line) == 0 || line[0] == '#' {
		return "", "", nil
	}
	key, value, hasValue := strings.Cut(string(line), "=")
	if errs := validation.IsEnvVarName(key); len(errs) != 0 {
		return "", "", fmt.Errorf("%q is not a valid key name: %s", key, strings.Join(errs, ";"))
	}
	if !hasValue {
		value = os.Getenv(key)
	}
	return key, value, nil
}

// newConfigMap is the ConfigMap kubectl create configmap starts from: its
// namespace only when one was asked for (-n), and empty data and
// binaryData, which its hash (--append-hash) encodes as {}.
func newConfigMap(name, namespace string) *api.ConfigMap {
	return &api.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Data:       map[string]string{},
		BinaryData: map[string][]byte{},
	}
}

// configMapFromSources builds the ConfigMap of `create configmap` as
// kubectl does: files first, then literals, then env files; a file that is
// not UTF-8 goes to binaryData; every key must be a valid config key and
// new to both maps.
func configMapFromSources(name, namespace string, src dataSources) (*api.ConfigMap, error) {
	cm := newConfigMap(name, namespace)
	if err := forEachFile(src.files, func(key, path string) error { return addConfigMapFile(cm, key, path) }); err != nil {
		return nil, err
	}
	for _, lit := range src.literals {
		key, value, err := kubectlutil.ParseLiteralSource(lit)
		if err != nil {
			return nil, err
		}
		if err := addConfigMapKey(cm, key, value); err != nil {
			return nil, err
		}
	}
	err := forEachEnvFile(src.envFiles, "env config file cannot be a directory", func(key, value string) error {
		return addConfigMapKey(cm, key, value)
	})
	if err != nil {
		return nil, err
	}
	return cm, nil
}

// addConfigMapFile adds the content of path under key: to data when it is
// UTF-8 text, else to binaryData.
func addConfigMapFile(cm *api.ConfigMap, key, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if utf8.Valid(b) {
		return addConfigMapKey(cm, key, string(b))
	}
	if err := checkNewConfigMapKey(cm, key); err != nil {
		return err
	}
	cm.BinaryData[key] = b
	return nil
}

// addConfigMapKey adds a text value under key.
func addConfigMapKey(cm *api.ConfigMap, key, value string) error {
	if err := checkNewConfigMapKey(cm, key); err != nil {
		return err
	}
	cm.Data[key] = value
	return nil
}

// checkNewConfigMapKey refuses, in kubectl's words, a key that is not a
// valid config key or that the ConfigMap already has.
func checkNewConfigMapKey(cm *api.ConfigMap, key string) error {
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return fmt.Errorf("%q is not a valid key name for a ConfigMap: %s", key, strings.Join(errs, ","))
	}
	if _, ok := cm.Data[key]; ok {
		return fmt.Errorf("cannot add key %q, another key by that name already exists in Data for ConfigMap %q", key, cm.Name)
	}
	if _, ok := cm.BinaryData[key]; ok {
		return fmt.Errorf("cannot add key %q, another key by that name already exists in BinaryData for ConfigMap %q", key, cm.Name)
	}
	return nil
}

// newSecret is the Secret kubectl create secret starts from: the type
// asked for ("" for generic without --type, which the server defaults to
// Opaque but the hash encodes as ""), and empty data.
func newSecret(name, namespace string, typ api.SecretType) *api.Secret {
	return &api.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Type:       typ,
		Data:       map[string][]byte{},
	}
}

// secretFromSources builds the Secret of `create secret generic` as
// kubectl does: literals first, then files, then env files, each key a
// valid config key seen once; values are bytes, text or not.
func secretFromSources(name, namespace string, typ api.SecretType, src dataSources) (*api.Secret, error) {
	s := newSecret(name, namespace, typ)
	for _, lit := range src.literals {
		key, value, err := kubectlutil.ParseLiteralSource(lit)
		if err != nil {
			return nil, err
		}
		if err := addSecretKey(s, key, []byte(value)); err != nil {
			return nil, err
		}
	}
	if err := addSecretFiles(s, src.files); err != nil {
		return nil, err
	}
	err := forEachEnvFile(src.envFiles, "env secret file cannot be a directory", func(key, value string) error {
		return addSecretKey(s, key, []byte(value))
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// addSecretFiles adds the files of the --from-file sources.
func addSecretFiles(s *api.Secret, sources []string) error {
	return forEachFile(sources, func(key, path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return addSecretKey(s, key, b)
	})
}

// addSecretKey adds a value under key, refusing in kubectl's words a key
// that is not a valid config key or that the Secret already has.
func addSecretKey(s *api.Secret, key string, value []byte) error {
	if errs := validation.IsConfigMapKey(key); len(errs) != 0 {
		return fmt.Errorf("%q is not valid key name for a Secret %s", key, strings.Join(errs, ";"))
	}
	if _, ok := s.Data[key]; ok {
		return fmt.Errorf("cannot add key %s, another key by that name already exists", key)
	}
	s.Data[key] = value
	return nil
}
