package image

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkUnpackTestImage unpacks the busybox test image's layer (an
// uncompressed tar of about 2 MB and ~290 entries, mostly symlinks) into a
// fresh directory: the cost of a layer's first use on a node, without
// download, decompression or the final syncfs. MB/s is of tar bytes.
func BenchmarkUnpackTestImage(b *testing.B) {
	needRoot(b)
	layers, err := busyboxImage(b).Layers()
	if err != nil {
		b.Fatal(err)
	}
	r, err := layers[0].Uncompressed()
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		b.Fatal(err)
	}
	// Each iteration gets a new directory and nothing is deleted until the
	// end: deleting between iterations made the next creations several
	// times slower on this ext4 (mounted with discard) and measured that.
	parent := b.TempDir()
	b.SetBytes(int64(len(data)))
	n := 0
	for b.Loop() {
		n++
		dir := filepath.Join(parent, strconv.Itoa(n))
		if err := os.Mkdir(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := unpackLayer(bytes.NewReader(data), dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(n), "ms/layer")
}

// BenchmarkLoadTestImage imports the test image's docker archive into an
// empty store: spooling, gunzip, digest check, unpack, syncfs, index write.
func BenchmarkLoadTestImage(b *testing.B) {
	needRoot(b)
	archive, err := os.ReadFile(busyboxArchive(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(archive)))
	for b.Loop() {
		b.StopTimer()
		s := newStore(b)
		b.StartTimer()
		if _, err := s.Load(bytes.NewReader(archive)); err != nil {
			b.Fatal(err)
		}
	}
}
