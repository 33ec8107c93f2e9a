package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api/client"
)

func scaleCommand() *cli.Command {
	return &cli.Command{
		Name:  "scale",
		Usage: "set the number of replicas of Deployments",
		Description: "Through the Deployment's scale subresource, as kubectl scale does; the\n" +
			"leader's controller then creates or deletes pods to match.\n\n" +
			"gossipod scale deployment web --replicas 6\n" +
			"gossipod scale deploy/web --replicas=2 --current-replicas=6",
		ArgsUsage: "--replicas=COUNT (TYPE NAME... | TYPE/NAME...)",
		Flags: []cli.Flag{
			namespaceFlag(),
			&cli.IntFlag{Name: "replicas", Value: -1, Usage: "the new number of replicas (required)"},
			&cli.IntFlag{Name: "current-replicas", Value: -1, Usage: "precondition: scale only if the wanted replicas are now this many"},
			&cli.StringFlag{Name: "resource-version", Usage: "precondition: scale only if the resourceVersion is still this"},
		},
		Action: runScale,
	}
}

func runScale(c *cli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	replicas := c.Int("replicas")
	if replicas < 0 {
		return usageError{errors.New("--replicas=COUNT is required, and COUNT must be greater than or equal to 0")}
	}
	if len(args) == 0 {
		return usageError{errors.New("you must specify the type of resource to scale, e.g. gossipod scale deployment NAME --replicas=COUNT")}
	}
	kind, names, err := resourceArgs(args, "scale")
	if err != nil {
		return err
	}
	if kind != resourceDeployments {
		return usageError{fmt.Errorf("cannot scale %s: only deployments can be scaled", kind)}
	}
	if len(names) == 0 {
		return usageError{errors.New("resource(s) were provided, but no name was specified")}
	}
	current, version := c.Int("current-replicas"), c.String("resource-version")
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ns := namespace(c)
	for _, name := range names {
		ctx, cancel := requestContext(c)
		err := scaleDeployment(ctx, cl, ns, name, int32(replicas), current, version)
		cancel()
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%s/%s scaled\n", deploymentKind, name)
	}
	return nil
}

// scaleDeployment writes the new replicas through the scale subresource,
// checking kubectl's preconditions first when they are given.
func scaleDeployment(ctx context.Context, cl *client.Client, ns, name string, replicas int32, current int, version string) error {
	s := &client.Scale{}
	if current >= 0 || version != "" {
		live, err := cl.GetScale(ctx, ns, name)
		if err != nil {
			return statusError(err)
		}
		if current >= 0 && int(live.Spec.Replicas) != current {
			return fmt.Errorf("Expected replicas to be %d, was %d", current, live.Spec.Replicas)
		}
		if version != "" && live.ResourceVersion != version {
			return fmt.Errorf("Expected resource version to be %s, was %s", version, live.ResourceVersion)
		}
		// The write holds the version it checked: a change in between is
		// a 409, not lost.
		s.ResourceVersion = live.ResourceVersion
	}
	s.Spec.Replicas = replicas
	if _, err := cl.UpdateScale(ctx, ns, name, s); err != nil {
		return statusError(err)
	}
	return nil
}
