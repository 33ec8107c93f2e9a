package runtime

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// readVolume reads every user-visible file of a projected volume, as a
// container would, through the key -> ..data/key links.
func readVolume(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		top := filepath.Join(dir, e.Name())
		if fi, err := os.Stat(top); err == nil && fi.Mode().IsRegular() {
			b, err := os.ReadFile(top)
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = string(b)
			continue
		}
		err := filepath.WalkDir(top+"/", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(top, p)
			out[filepath.ToSlash(filepath.Join(e.Name(), rel))] = string(b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestWriteAtomic(t *testing.T) {
	type step struct {
		payload map[string]fileProjection
		changed bool
	}
	f := func(s string) fileProjection { return fileProjection{Data: []byte(s), Mode: 0o644} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"first write", []step{{map[string]fileProjection{"a": f("1"), "b": f("2")}, true}}},
		{"empty payload", []step{{map[string]fileProjection{}, true}}},
		{"same payload is not rewritten", []step{
			{map[string]fileProjection{"a": f("1")}, true},
			{map[string]fileProjection{"a": f("1")}, false}}},
		{"changed content", []step{
			{map[string]fileProjection{"a": f("1")}, true},
			{map[string]fileProjection{"a": f("2")}, true}}},
		{"changed mode only", []step{
			{map[string]fileProjection{"a": f("1")}, true},
			{map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o400}}, true}}},
		{"key removed, key added", []step{
			{map[string]fileProjection{"a": f("1"), "b": f("2")}, true},
			{map[string]fileProjection{"b": f("2"), "c": f("3")}, true}}},
		{"nested paths", []step{
			{map[string]fileProjection{"d/x/a": f("1"), "d/b": f("2"), "top": f("3")}, true},
			{map[string]fileProjection{"d/b": f("4")}, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for i, s := range tt.steps {
				changed, err := writeAtomic(dir, s.payload, time.Now())
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if changed != s.changed {
					t.Errorf("step %d: changed %v, want %v", i, changed, s.changed)
				}
				got := readVolume(t, dir)
				want := map[string]string{}
				for p, fp := range s.payload {
					want[p] = string(fp.Data)
					fi, err := os.Stat(filepath.Join(dir, p))
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if fi.Mode().Perm() != fs.FileMode(fp.Mode) {
						t.Errorf("step %d: %s mode %v, want %o", i, p, fi.Mode().Perm(), fp.Mode)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("step %d: files %v, want %v", i, got, want)
				}
				// One version directory only, named by ..data, and the
				// user-visible names are links into ..data.
				target, err := os.Readlink(filepath.Join(dir, dataDirName))
				if err != nil {
					t.Fatalf("step %d: ..data: %v", i, err)
				}
				var versions []string
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					n := e.Name()
					switch {
					case n == dataDirName:
					case strings.HasPrefix(n, ".."):
						versions = append(versions, n)
					default:
						l, err := os.Readlink(filepath.Join(dir, n))
						if err != nil || l != filepath.Join(dataDirName, n) {
							t.Errorf("step %d: %s -> %q (%v), want a link to ..data/%s", i, n, l, err, n)
						}
					}
				}
				if !slices.Equal(versions, []string{target}) || !strings.HasPrefix(target, "..") {
					t.Errorf("step %d: version dirs %v, ..data -> %s", i, versions, target)
				}
			}
		})
	}
}

func TestWriteAtomicRefusesPaths(t *testing.T) {
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../../x", "..data", "..2026"} {
		t.Run(p, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := writeAtomic(dir, map[string]fileProjection{p: {Data: []byte("x"), Mode: 0o644}}, time.Now()); err == nil {
				t.Errorf("path %q written", p)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("path %q: the directory holds %v", p, entries)
			}
		})
	}
}

// A reader going through ..data while versions are swapped always sees
// one whole version: every file of one read has the same generation.
func TestWriteAtomicReaderNeverSeesAMix(t *testing.T) {
	dir := t.TempDir()
	keys := []string{"a", "b", "c", "d"}
	gen := func(n int) map[string]fileProjection {
		p := map[string]fileProjection{}
		for _, k := range keys {
			p[k] = fileProjection{Data: []byte(fmt.Sprintf("%s-%d", k, n)), Mode: 0o644}
		}
		return p
	}
	if _, err := writeAtomic(dir, gen(0), time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads, mixed int
	var firstMix string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			// Resolve ..data once, as a reader of a consistent set does
			// (kubelet's guarantee is per ..data resolution).
			root, err := filepath.EvalSymlinks(filepath.Join(dir, dataDirName))
			if err != nil {
				continue // between removal of the old and the read
			}
			var gens []string
			ok := true
			for _, k := range keys {
				b, err := os.ReadFile(filepath.Join(root, k))
				if err != nil {
					ok = false // the version went away under the reader: no data, not mixed data
					break
				}
				gens = append(gens, strings.SplitN(string(b), "-", 2)[1])
			}
			if !ok {
				continue
			}
			reads++
			for _, g := range gens[1:] {
				if g != gens[0] {
					mixed++
					if firstMix == "" {
						firstMix = strings.Join(gens, ",")
					}
				}
			}
		}
	}()
	for n := 1; n <= 200; n++ {
		if _, err := writeAtomic(dir, gen(n), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if reads == 0 {
		t.Fatal("the reader read nothing")
	}
	if mixed > 0 {
		t.Errorf("%d of %d reads saw a mix of versions, first %s", mixed, reads, firstMix)
	}
	if got := readVolume(t, dir); got["a"] != "a-200" || got["d"] != "d-200" {
		t.Errorf("final files %v", got)
	}
}
