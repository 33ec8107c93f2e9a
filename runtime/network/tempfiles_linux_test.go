package network

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRemoveStaleTemps: what writeFileAtomic leaves behind when the agent is
// killed between creating and renaming its temporary file goes at the next start;
// the records, and anything else, stay.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "b7ecbe7c-46c3-4b32-be58-9d7b7bc2475a.json")
	// A temporary file exactly as writeFileAtomic names it.
	tmp, err := os.CreateTemp(dir, tempPrefix(record))
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	for _, name := range []string{filepath.Base(record), "podcidr", ".hidden", "notes.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".dir.tmp1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := removeStaleTemps(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{".dir.tmp1", ".hidden", filepath.Base(record), "notes.tmp", "podcidr"}
	if !slices.Equal(left, want) {
		t.Fatalf("left %q, want %q (the temporary file %s gone)", left, want, filepath.Base(tmp.Name()))
	}
	// A write after it still works and leaves no temporary file.
	if err := writeFileAtomic(record, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := removeStaleTemps(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("listing a missing directory: want an error")
	}
}
