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

// table writes aligned columns as kubectl does (three spaces between them);
// newTable with no headers writes no header row (--no-headers).
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

func (t *table) row(cols ...string) {
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// age formats how long ago t was, the way kubectl's AGE column does
// (duration.HumanDuration of k8s.io/apimachinery): up to two significant
// units, "<invalid>" for a time more than a second in the future.
func age(t api.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return humanDuration(now.Sub(t.Time))
}

func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	switch {
	case seconds < -1:
		return "<invalid>"
	case seconds < 0:
		return "0s"
	case seconds < 2*60:
		return fmt.Sprintf("%ds", seconds)
	}
	two := func(n1 int, u1 string, n2 int, u2 string) string {
		if n2 == 0 {
			return fmt.Sprintf("%d%s", n1, u1)
		}
		return fmt.Sprintf("%d%s%d%s", n1, u1, n2, u2)
	}
	minutes := int(d / time.Minute)
	switch {
	case minutes < 10:
		return two(minutes, "m", seconds%60, "s")
	case minutes < 3*60:
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	switch {
	case hours < 8:
		return two(hours, "h", minutes%60, "m")
	case hours < 48:
		return fmt.Sprintf("%dh", hours)
	case hours < 24*8:
		return two(hours/24, "d", hours%24, "h")
	case hours < 24*365*2:
		return fmt.Sprintf("%dd", hours/24)
	case hours < 24*365*8:
		return two(hours/24/365, "y", (hours/24)%365, "d")
	}
	return fmt.Sprintf("%dy", hours/24/365)
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
