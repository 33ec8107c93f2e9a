package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/gossipod/gossipod/api/client"
)

func logsCommand() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print the logs of a container in a pod",
		ArgsUsage: "POD",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "namespace of the pod"},
			&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name (required when the pod has several)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "stream the log as it grows"},
			&cli.Int64Flag{Name: "tail", Value: -1, Usage: "lines of recent log to show (-1: all)"},
			&cli.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "the log of the previous, terminated instance of the container"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return usageError{fmt.Errorf("logs takes exactly one POD, got %q", args)}
			}
			cl, err := newClient(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := client.LogOptions{Container: c.String("container"), Follow: c.Bool("follow"), TailLines: c.Int64("tail"), Previous: c.Bool("previous")}
			return statusError(cl.Logs(ctx, c.String("namespace"), args[0], opts, c.App.Writer))
		},
	}
}

// exitError carries a remote command's exit code out of exec, so the CLI
// exits with it, as kubectl exec does.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("command terminated with exit code %d", e.code) }

func execCommand() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in a running container",
		ArgsUsage: "POD -- COMMAND [ARG...]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "namespace", Aliases: []string{"n"}, Value: "default", Usage: "namespace of the pod"},
			&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name (default: the pod's only container)"},
			&cli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "pass standard input to the command"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a terminal; with -i, the local terminal is put in raw mode"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return err
			}
			if len(args) < 2 {
				return usageError{fmt.Errorf("exec needs a POD and a COMMAND: gossipod exec POD -- COMMAND [ARG...]")}
			}
			cl, err := newClient(c)
			if err != nil {
				return err
			}
			opts := client.ExecOptions{
				Container: c.String("container"),
				Command:   args[1:],
				Stdout:    c.App.Writer,
				Stderr:    c.App.ErrWriter,
				TTY:       c.Bool("tty"),
			}
			if c.Bool("stdin") {
				opts.Stdin = os.Stdin
				if opts.TTY && term.IsTerminal(int(os.Stdin.Fd())) {
					old, err := term.MakeRaw(int(os.Stdin.Fd()))
					if err == nil {
						defer term.Restore(int(os.Stdin.Fd()), old)
					}
				}
			}
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM)
			defer stop()
			code, err := cl.Exec(ctx, c.String("namespace"), args[0], opts)
			if err != nil {
				return statusError(err)
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "manage the images of the agent named by --addr",
		Subcommands: []*cli.Command{
			{
				Name:      "load",
				Usage:     "import an OCI or docker image archive into the agent's image store",
				ArgsUsage: "FILE",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageError{fmt.Errorf("image load takes exactly one FILE")}
					}
					f, err := os.Open(c.Args().First())
					if err != nil {
						return err
					}
					defer f.Close()
					cl, err := newClient(c)
					if err != nil {
						return err
					}
					refs, err := cl.LoadImage(c.Context, f)
					if err != nil {
						return statusError(err)
					}
					for _, r := range refs {
						fmt.Fprintf(c.App.Writer, "Loaded image: %s\n", r)
					}
					return nil
				},
			},
			{
				Name:    "ls",
				Aliases: []string{"list"},
				Usage:   "list the agent's images",
				Flags:   []cli.Flag{outputFlag("json", "yaml")},
				Action: func(c *cli.Context) error {
					if err := noArgs(c); err != nil {
						return err
					}
					format, err := checkOutput(c, "json", "yaml")
					if err != nil {
						return err
					}
					cl, err := newClient(c)
					if err != nil {
						return err
					}
					images, err := cl.Images(c.Context)
					if err != nil {
						return statusError(err)
					}
					if format != "" {
						return printObject(c.App.Writer, format, images)
					}
					t := newTable(c.App.Writer, "IMAGE", "ID", "SIZE")
					for _, im := range images {
						id := im.ID
						if len(id) > 19 {
							id = id[:19]
						}
						t.row(im.Reference, id, fmt.Sprintf("%.1fMB", float64(im.Size)/1e6))
					}
					return t.flush()
				},
			},
		},
	}
}
