package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
)

func membersCommand() *cli.Command {
	return &cli.Command{
		Name:  "members",
		Usage: "list the agents of the cluster as gossip sees them",
		Flags: []cli.Flag{outputFlag("json", "yaml")},
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
			ctx, cancel := requestContext(c)
			defer cancel()
			members, err := cl.Members(ctx)
			if err != nil {
				return statusError(err)
			}
			if format != "" {
				return printObject(c.App.Writer, format, members)
			}
			t := newTable(c.App.Writer, "NAME", "ADDRESS", "STATUS", "ROLE", "CPU(FREE)", "MEMORY(FREE)", "PODS(FREE)")
			for _, m := range members {
				t.row(m.Name, m.Addr, string(m.Status), orNone(m.Role),
					quantity(m.Free, api.ResourceCPU)+"/"+quantity(m.Allocatable, api.ResourceCPU),
					quantity(m.Free, api.ResourceMemory)+"/"+quantity(m.Allocatable, api.ResourceMemory),
					quantity(m.Free, api.ResourcePods)+"/"+quantity(m.Allocatable, api.ResourcePods))
			}
			return t.flush()
		},
	}
}

func raftCommand() *cli.Command {
	return &cli.Command{
		Name:  "raft",
		Usage: "inspect the Raft cluster",
		Subcommands: []*cli.Command{{
			Name:  "peers",
			Usage: "list the Raft configuration as the agent sees it",
			Flags: []cli.Flag{outputFlag("json", "yaml")},
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
				ctx, cancel := requestContext(c)
				defer cancel()
				peers, err := cl.RaftPeers(ctx)
				if err != nil {
					return statusError(err)
				}
				if format != "" {
					return printObject(c.App.Writer, format, peers)
				}
				t := newTable(c.App.Writer, "ID", "ADDRESS", "SUFFRAGE", "LEADER")
				for _, p := range peers {
					leader := ""
					if p.Leader {
						leader = "*"
					}
					t.row(p.ID, p.Address, p.Suffrage, leader)
				}
				return t.flush()
			},
		}},
	}
}

// noArgs applies flags given after the command and rejects stray arguments.
func noArgs(c *cli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", c.Command.FullName(), args)}
	}
	return nil
}
