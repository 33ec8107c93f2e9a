package controllers

import (
	"errors"
	"slices"
	"testing"
)

func TestSlowStartBatch(t *testing.T) {
	fail := errors.New("refused")
	tests := []struct {
		name        string
		count       int
		failAt      int // the 1-based batch that fails; 0: none
		wantBatches []int
		wantCreated int
	}{
		{"nothing", 0, 0, nil, 0},
		{"one", 1, 0, []int{1}, 1},
		{"ten", 10, 0, []int{1, 2, 4, 3}, 10},
		{"a burst", 500, 0, []int{1, 2, 4, 8, 16, 32, 64, 128, 245}, 500},
		{"batches stop growing at 500", 2000, 0, []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 500, 500, 489}, 2000},
		{"the first batch fails", 100, 1, []int{1}, 0},
		{"the third batch fails: no more", 100, 3, []int{1, 2, 4}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var batches []int
			created, err := slowStartBatch(tt.count, func(n int) error {
				batches = append(batches, n)
				if len(batches) == tt.failAt {
					return fail
				}
				return nil
			})
			if !slices.Equal(batches, tt.wantBatches) || created != tt.wantCreated {
				t.Errorf("batches %v, created %d; want %v, %d", batches, created, tt.wantBatches, tt.wantCreated)
			}
			if (tt.failAt > 0) != errors.Is(err, fail) {
				t.Errorf("err = %v", err)
			}
			for _, b := range batches {
				if b > burstReplicas {
					t.Errorf("a batch of %d is over %d", b, burstReplicas)
				}
			}
		})
	}
}

// TestErrStep: a step that did not fail is no error (a pass that wrote
// its status must not be reported, and retried, as failed).
func TestErrStep(t *testing.T) {
	if err := errStep("record status", nil); err != nil {
		t.Fatalf("errStep of nil = %v", err)
	}
	fail := errors.New("refused")
	if err := errStep("record status", fail); !errors.Is(err, fail) || err.Error() != "record status: refused" {
		t.Fatalf("errStep = %v", err)
	}
}
