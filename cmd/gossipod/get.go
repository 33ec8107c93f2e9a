package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
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
			default:
				for _, f := range []string{"selector", "field-selector", "watch", "show-labels", "no-headers"} {
					if c.IsSet(f) {
						return usageError{fmt.Errorf("--%s is not supported for nodes", f)}
					}
				}
				return getNodes(c, names)
			}
		},
	}
}

func getNodes(c *cli.Context, names []string) error {
	format, err := checkOutput(c, "wide", "json", "yaml")
	if err != nil {
		return err
	}
	if len(names) > 1 {
		return usageError{fmt.Errorf("get nodes takes at most one NAME, got %q", names)}
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()

	var nodes []api.Node
	if len(names) == 1 {
		n, err := cl.Node(ctx, names[0])
		if err != nil {
			return statusError(err)
		}
		if format == "json" || format == "yaml" {
			return printObject(c.App.Writer, format, n)
		}
		nodes = []api.Node{*n}
	} else {
		list, err := cl.Nodes(ctx)
		if err != nil {
			return statusError(err)
		}
		if format == "json" || format == "yaml" {
			return printObject(c.App.Writer, format, list)
		}
		nodes = list.Items
	}
	if len(nodes) == 0 {
		fmt.Fprintln(c.App.ErrWriter, "No resources found")
		return nil
	}

	// ROLES shows each node's place in Raft, the nearest thing gossipod
	// has to Kubernetes' control-plane role.
	roles := map[string]string{}
	if peers, err := cl.RaftPeers(ctx); err == nil {
		for _, p := range peers {
			roles[p.ID] = p.Suffrage
			if p.Leader {
				roles[p.ID] = "leader"
			}
		}
	}
	headers := []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"}
	if format == "wide" {
		// CPU, MEMORY and PODS are allocated/allocatable: what the pods bound
		// to the node request, out of what it offers.
		headers = append(headers, "INTERNAL-IP", "POD-CIDR", "OS-IMAGE", "KERNEL-VERSION", "CPU", "MEMORY", "PODS")
	}
	t := newTable(c.App.Writer, headers...)
	now := time.Now()
	for _, n := range nodes {
		cols := []string{n.Name, nodeStatus(&n), orNone(roles[n.Name]), age(n.CreationTimestamp, now), n.Status.NodeInfo.KubeletVersion}
		if format == "wide" {
			cols = append(cols, orNone(api.NodeInternalIPOf(&n)), orNone(n.Spec.PodCIDR), orNone(n.Status.NodeInfo.OSImage), orNone(n.Status.NodeInfo.KernelVersion),
				allocatedOf(&n, api.ResourceCPU), allocatedOf(&n, api.ResourceMemory), allocatedOf(&n, api.ResourcePods))
		}
		t.row(cols...)
	}
	return t.flush()
}

// nodeStatus is kubectl's STATUS column: Ready, NotReady (condition False or
// Unknown) or Unknown (no condition yet), plus
// SchedulingDisabled for a cordoned node.
func nodeStatus(n *api.Node) string {
	s := "Unknown"
	if c := api.GetNodeCondition(n, api.NodeReady); c != nil {
		s = "NotReady"
		if c.Status == api.ConditionTrue {
			s = "Ready"
		}
	}
	if n.Spec.Unschedulable {
		s += ",SchedulingDisabled"
	}
	return s
}

// allocatedOf is "allocated/allocatable" of one resource of a node.
func allocatedOf(n *api.Node, name api.ResourceName) string {
	used := "0"
	if q, ok := api.NodeAllocated(n)[name]; ok {
		used = q.String()
	}
	return used + "/" + quantity(n.Status.Allocatable, name)
}
