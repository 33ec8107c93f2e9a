package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func getCommand() *cli.Command {
	return &cli.Command{
		Name:  "get",
		Usage: "display one or many resources (pods, deployments, replicasets, nodes)",
		Description: "Examples:\n" +
			"  gossipod get pods                   # pods of the default namespace\n" +
			"  gossipod get pods -A -o wide        # every pod, with its IP and node\n" +
			"  gossipod get pods -l app=web -w     # then a row per change, until ^C\n" +
			"  gossipod get pod web -o yaml\n" +
			"  gossipod get deployments -o wide\n" +
			"  gossipod get deploy web -w\n" +
			"  gossipod get rs -l app=web\n" +
			"  gossipod get svc,endpointslices -A\n" +
			"  gossipod get all -l app=web\n" +
			"  gossipod get nodes",
		ArgsUsage: "RESOURCE [NAME...] | RESOURCE/NAME...",
		Flags: []cli.Flag{
			outputFlag("wide", "json", "yaml", "name"),
			namespaceFlag(),
			&cli.BoolFlag{Name: "all-namespaces", Aliases: []string{"A"}, Usage: "list the objects of every namespace"},
			&cli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "label selector (app=web, tier in (a,b), !canary)"},
			&cli.StringFlag{Name: "field-selector", Usage: "field selector (spec.nodeName=node-1, status.phase!=Running)"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "after listing, print a row for every change until interrupted"},
			&cli.BoolFlag{Name: "show-labels", Usage: "add a LABELS column"},
			&cli.BoolFlag{Name: "no-headers", Usage: "print tables without their header"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return err
			}
			if !c.Bool("watch") {
				return getAny(c, args)
			}
			// -w streams rows of the kinds that have a watch printer.
			kind, names, err := resourceArgs(args, "get")
			if err != nil {
				return err
			}
			switch kind {
			case resourcePods:
				return getPods(c, names)
			case resourceDeployments:
				return getDeployments(c, names)
			case resourceReplicaSets:
				return getReplicaSets(c, names)
			}
			return usageError{fmt.Errorf("--watch is not supported for %s", kind)}
		},
	}
}
