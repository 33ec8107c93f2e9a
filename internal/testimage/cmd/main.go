// Command testimage writes gossipod's test image, localhost/busybox:latest,
// as a docker archive (see package internal/testimage):
//
//	go run ./internal/testimage/cmd -o build/images/busybox.tar
//
// `make testimage` runs it; load the result with `gossipod image load`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/gossipod/gossipod/internal/testimage"
)

func main() {
	out := flag.String("o", "build/images/busybox.tar", "the docker archive to write")
	flag.Parse()
	if err := testimage.Build(*out); err != nil {
		fmt.Fprintln(os.Stderr, "testimage:", err)
		if errors.Is(err, testimage.ErrNoBusybox) {
			os.Exit(2)
		}
		os.Exit(1)
	}
	fi, err := os.Stat(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testimage:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s (%d bytes)\n", *out, testimage.Reference, fi.Size())
}
