package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

func rolloutCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollout",
		Usage: "follow the rollout of a Deployment",
		Subcommands: []*cli.Command{{
			Name:  "status",
			Usage: "wait until a Deployment's rollout is done, printing its progress",
			Description: "Prints kubectl's progress lines each time the Deployment's status changes,\n" +
				"and returns once every replica runs the current template and is\n" +
				"available; exits 1 on --timeout.\n\n" +
				"gossipod rollout status deployment web\n" +
				"gossipod rollout status deploy/web --timeout 2m",
			ArgsUsage: "(TYPE NAME | TYPE/NAME)",
			Flags: []cli.Flag{
				namespaceFlag(),
				&cli.DurationFlag{Name: "timeout", Usage: "how long to wait before giving up (0: forever)"},
				&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Value: true, Usage: "wait for the rollout to finish; false: print the status once"},
			},
			Action: runRolloutStatus,
		}},
	}
}

func runRolloutStatus(c *cli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usageError{errors.New("required resource not specified")}
	}
	kind, names, err := resourceArgs(args, "rollout status")
	if err != nil {
		return err
	}
	if kind != resourceDeployments {
		return usageError{fmt.Errorf("no status viewer has been implemented for %s", kind)}
	}
	if len(names) != 1 {
		return usageError{fmt.Errorf("rollout status is only supported on individual resources and resource collections, but %d resources were found", len(names))}
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if t := c.Duration("timeout"); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	err = waitRollout(ctx, cl, namespace(c), names[0], c.Bool("watch"), func(line string) {
		fmt.Fprint(c.App.Writer, line)
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("timed out waiting for the condition")
	case errors.Is(err, context.Canceled):
		return nil // interrupted
	}
	return err
}

// waitRollout prints the Deployment's rollout status (kubectl's lines)
// now and at every change of it, until the rollout is done, the Deployment
// is deleted, or ctx ends (ctx's error is returned). The watch resumes
// where it stopped when the agent ends the stream, and starts over from a
// fresh read when its version is too old.
func waitRollout(ctx context.Context, cl *client.Client, ns, name string, watch bool, print func(string)) error {
	var version string
	for {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		d, err := cl.Deployment(rctx, ns, name)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return statusError(err)
		}
		done, err := printRolloutStatus(d, print)
		if done || err != nil || !watch {
			return err
		}
		version = d.ResourceVersion

		err = watchObjects(ctx, cl.WatchDeployments, client.ListOptions{Namespace: ns}, version,
			func(eventType string, d *api.Deployment) error {
				if d.Name != name {
					return nil // the server does not filter by name
				}
				switch eventType {
				case "ADDED", "MODIFIED":
					done, err := printRolloutStatus(d, print)
					if err != nil {
						return err
					}
					if done {
						return errRolloutDone
					}
					return nil
				case "DELETED":
					return errors.New("object has been deleted")
				}
				return fmt.Errorf("internal error: unexpected event %s", eventType)
			})
		switch {
		case errors.Is(err, errRolloutDone):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case isGone(err):
			continue // read it again and watch from there
		}
		return err
	}
}

// isGone reports whether err is the server's 410: the watch's version is
// older than what the server keeps.
func isGone(err error) bool {
	var s *api.Status
	return errors.As(err, &s) && (s.Code == 410 || s.Reason == "Expired" || s.Reason == "Gone")
}

// errRolloutDone ends the watch of a finished rollout.
var errRolloutDone = errors.New("rollout done")

func printRolloutStatus(d *api.Deployment, print func(string)) (bool, error) {
	line, done, err := rolloutStatus(d)
	if err != nil {
		return false, err
	}
	print(line)
	return done, nil
}
