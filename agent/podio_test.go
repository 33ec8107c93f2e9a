package agent

import (
	"bytes"
	"errors"
	"testing"
)

func TestLimitWriter(t *testing.T) {
	tests := []struct {
		name   string
		limit  int64
		writes []string
		want   string
		errAt  int // index of the first write that fails with errLogLimit; -1: none
	}{
		{"under the limit", 10, []string{"abc", "def"}, "abcdef", -1},
		{"exactly the limit", 6, []string{"abc", "def"}, "abcdef", -1},
		{"cut inside a write", 4, []string{"abc", "def"}, "abcd", 1},
		{"nothing after the limit", 3, []string{"abc", "def", "ghi"}, "abc", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			lw := &limitWriter{w: &buf, left: tt.limit}
			errAt := -1
			for i, w := range tt.writes {
				if _, err := lw.Write([]byte(w)); err != nil {
					if !errors.Is(err, errLogLimit) {
						t.Fatalf("write %d: %v", i, err)
					}
					errAt = i
					break
				}
			}
			if buf.String() != tt.want || errAt != tt.errAt {
				t.Errorf("wrote %q, first error at %d; want %q, %d", buf.String(), errAt, tt.want, tt.errAt)
			}
		})
	}
}
