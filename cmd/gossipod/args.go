package main

import (
	"flag"
	"io"
	"slices"

	"github.com/urfave/cli/v2"
)

// interspersed returns the positional arguments of c and applies flags
// that follow them ("get nodes node-1 -o json"), as kubectl allows;
// urfave/cli stops parsing flags at the first positional argument.
// Everything after a literal "--" stays positional.
func interspersed(c *cli.Context) ([]string, error) {
	fs := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, f := range c.Command.Flags {
		if err := f.Apply(fs); err != nil {
			return nil, err
		}
	}
	var positional []string
	rest := c.Args().Slice()
	for len(rest) > 0 {
		if rest[0] == "--" {
			positional = append(positional, rest[1:]...)
			break
		}
		terminator := slices.Index(rest, "--")
		if err := fs.Parse(rest); err != nil {
			return nil, usageError{err}
		}
		if consumed := len(rest) - len(fs.Args()); terminator >= 0 && consumed > terminator {
			// flag stopped at a "--" and dropped it: the rest is positional.
			positional = append(positional, fs.Args()...)
			break
		}
		rest = fs.Args()
		if len(rest) > 0 && rest[0] != "--" {
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
	}
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		// urfave/cli keeps a separate value per alias (-o, --output) and
		// syncs them only during its own parse, so set every name.
		for _, cf := range c.Command.Flags {
			if !slices.Contains(cf.Names(), f.Name) {
				continue
			}
			if _, shared := cf.(*cli.GenericFlag); shared {
				// Its Value is the same in fs and in c: already set.
				continue
			}
			if s, ok := f.Value.(*cli.StringSlice); ok {
				// One value for all its names: append each element once
				// (Set would take "[a b]", the slice's String, as one).
				for _, v := range s.Value() {
					if err := c.Set(cf.Names()[0], v); err != nil && setErr == nil {
						setErr = usageError{err}
					}
				}
				continue
			}
			for _, name := range cf.Names() {
				if err := c.Set(name, f.Value.String()); err != nil && setErr == nil {
					setErr = usageError{err}
				}
			}
		}
	})
	return positional, setErr
}
