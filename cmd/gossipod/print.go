package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/gossipod/gossipod/api"
)

// outputFlag is -o/--output, as kubectl has it.
func outputFlag(formats ...string) *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "output",
		Aliases: []string{"o"},
		Usage:   "output format: " + strings.Join(formats, ", ") + " (default: a table)",
	}
}

// checkOutput rejects an -o value the command does not support.
func checkOutput(c *cli.Context, formats ...string) (string, error) {
	o := c.String("output")
	if o == "" {
		return "", nil
	}
	for _, f := range formats {
		if o == f {
			return o, nil
		}
	}
	return "", usageError{fmt.Errorf("--output %q: want one of %s", o, strings.Join(formats, ", "))}
}

// printObject prints v as JSON or YAML.
func printObject(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// table writes aligned columns as kubectl does (three spaces between them).
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cols ...string) {
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// age formats how long ago t was, the way kubectl's AGE column does.
func age(t api.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now.Sub(t.Time)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 8*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// quantity prints a resource of a list, or "-".
func quantity(l api.ResourceList, name api.ResourceName) string {
	q, ok := l[name]
	if !ok {
		return "-"
	}
	return q.String()
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
