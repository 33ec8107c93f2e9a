package api

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDecode measures the strict decoding of what `apply -f` sends:
// the example Pod and Deployment as one two-document YAML stream (YAML to
// JSON, the strictness walk against the Go types, then encoding/json).
func BenchmarkDecode(b *testing.B) {
	var data []byte
	for _, name := range []string{"pod.yaml", "deployment.yaml"} {
		d, err := os.ReadFile(filepath.Join("..", "examples", name))
		if err != nil {
			b.Fatal(err)
		}
		data = append(append(data, d...), "\n---\n"...)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		objs, err := DecodeManifests(data)
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != 2 {
			b.Fatalf("%d objects, want 2", len(objs))
		}
	}
}
