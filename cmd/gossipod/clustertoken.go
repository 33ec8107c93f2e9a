package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/pki"
)

// tokenGenerateCommand prints a fresh cluster token: the one secret every
// agent of a cluster is started with.
func tokenGenerateCommand() *cli.Command {
	return &cli.Command{
		Name:  "generate",
		Usage: "print a fresh random cluster token to start every agent of a new cluster with",
		Description: `Give the same token to every agent, best as a file only root can read:
   gossipod token generate > /etc/gossipod/token && chmod 600 /etc/gossipod/token
   gossipod agent --token-file /etc/gossipod/token ...
Whoever holds it can join agents to the cluster and issue credentials for it.`,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("token generate takes no arguments, got %q", c.Args().Slice())}
			}
			token, err := pki.GenerateToken()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(c.App.Writer, token)
			return err
		},
	}
}
