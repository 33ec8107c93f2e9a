package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
)

// filenameFlag is -f/--filename, repeatable, as apply and delete have it.
func filenameFlag(verb string) *cli.StringSliceFlag {
	return &cli.StringSliceFlag{
		Name:    "filename",
		Aliases: []string{"f"},
		Usage:   "manifest to " + verb + ": a file, a directory (its .yaml, .yml and .json files, sorted), or - for stdin; repeatable",
	}
}

// recursiveFlag is -R/--recursive.
func recursiveFlag() *cli.BoolFlag {
	return &cli.BoolFlag{Name: "recursive", Aliases: []string{"R"}, Usage: "also read the directories inside directories given with -f"}
}

// manifestObject is one object of the manifests, with the file it came from.
type manifestObject struct {
	source string // the file, or "STDIN"
	obj    api.Object
}

// manifestExtensions are the files of a directory that hold manifests.
var manifestExtensions = []string{".yaml", ".yml", ".json"}

// readManifests reads and decodes every manifest the -f arguments name,
// before anything is sent: an error in any of them returns no object, so a
// bad file changes nothing. "-" reads stdin. A directory contributes its
// .yaml, .yml and .json files in name order (with recursive, those of its
// subdirectories too, depth first, as kubectl -R does).
func readManifests(paths []string, recursive bool, stdin io.Reader) ([]manifestObject, error) {
	var files []string
	for _, p := range paths {
		if p == "-" {
			files = append(files, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("the path %q does not exist", p)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			for _, ext := range manifestExtensions {
				if strings.HasSuffix(path, ext) {
					found = append(found, path)
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found) // WalkDir is lexical already; keep it explicit
		files = append(files, found...)
	}
	if len(files) == 0 {
		return nil, errors.New("must specify one of -f and -k") // kubectl's words
	}

	var objs []manifestObject
	var errs []error
	stdinRead := false
	for _, f := range files {
		var data []byte
		var err error
		source := f
		if f == "-" {
			source = "STDIN"
			if stdinRead {
				errs = append(errs, errors.New("stdin (-f -) can be read only once"))
				continue
			}
			stdinRead = true
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("error reading %s: %w", source, err))
			continue
		}
		decoded, err := api.DecodeManifests(data)
		if err != nil {
			for _, e := range splitJoined(err) {
				errs = append(errs, fmt.Errorf("error parsing %s: %w", source, e))
			}
			continue
		}
		for _, o := range decoded {
			objs = append(objs, manifestObject{source: source, obj: o})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

// splitJoined undoes errors.Join, so each error can get its own prefix.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// setNamespaces gives every object without a namespace the one of -n (or
// the default), and, as kubectl does, refuses an object whose namespace
// differs from an -n given explicitly.
func setNamespaces(objs []manifestObject, ns string, explicit bool) error {
	var errs []error
	for _, o := range objs {
		switch o.obj.(type) {
		case *api.Namespace, *api.ClusterRoleBinding:
			continue // cluster-scoped
		}
		switch objNS := o.obj.GetNamespace(); {
		case objNS == "":
			o.obj.SetNamespace(ns)
		case explicit && objNS != ns:
			errs = append(errs, fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", objNS, ns, objNS))
		}
	}
	return errors.Join(errs...)
}

// objectRef is kubectl's short name of an object: pod/web,
// deployment.apps/web.
func objectRef(o api.Object) string {
	return kindRef(o.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()) + "/" + o.GetName()
}

// kindRef is how kubectl names a kind in its messages: the lower-case kind,
// with the API group of a non-core kind (pod, deployment.apps).
func kindRef(apiVersion, kind string) string {
	k := strings.ToLower(kind)
	if group, _, ok := strings.Cut(apiVersion, "/"); ok {
		k += "." + group
	}
	return k
}
