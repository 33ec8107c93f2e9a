package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
)

// tokenCommand is `gossipod token`: the cluster token (`generate`, what
// every agent is started with) and the API's bearer tokens (`create`,
// `list`, `revoke`, as kubeadm's token commands manage bootstrap tokens).
func tokenCommand() *cli.Command {
	return &cli.Command{
		Name:  "token",
		Usage: "the cluster token, and the API's bearer tokens",
		Subcommands: []*cli.Command{
			tokenGenerateCommand(),
			tokenCreateCommand(),
			tokenListCommand(),
			tokenRevokeCommand(),
		},
	}
}

func roleNames() string {
	var names []string
	for _, r := range api.AccessRoles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}

func tokenCreateCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "create an API token and print it (the only time it is shown)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "role", Usage: "what the token may do: " + roleNames()},
			&cli.DurationFlag{Name: "ttl", Value: 24 * time.Hour, Usage: "how long the token works (0: it never expires)"},
			&cli.StringFlag{Name: "description", Usage: "what the token is for, shown by token list"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			role := api.AccessRole(c.String("role"))
			if !role.Valid() {
				return usageError{fmt.Errorf("--role %q: want one of %s", role, roleNames())}
			}
			ttl := c.Duration("ttl")
			if ttl < 0 || (ttl > 0 && ttl < time.Second) {
				return usageError{fmt.Errorf("--ttl %s: want at least 1s, or 0 for a token that never expires", ttl)}
			}
			req := api.TokenRequest{Role: role, TTL: "0", Description: c.String("description")}
			if ttl > 0 {
				req.TTL = ttl.String()
			}
			cl, err := newClient(c)
			if err != nil {
				return err
			}
			ctx, cancel := requestContext(c)
			defer cancel()
			tok, err := cl.CreateToken(ctx, req)
			if err != nil {
				return statusError(err)
			}
			_, err = fmt.Fprintln(c.App.Writer, tok.Bearer)
			return err
		},
	}
}

func tokenListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the API tokens (never their secrets)",
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
			list, err := cl.Tokens(ctx)
			if err != nil {
				return statusError(err)
			}
			if format != "" {
				return printObject(c.App.Writer, format, list)
			}
			now := time.Now()
			t := newTable(c.App.Writer, "ID", "ROLE", "EXPIRES", "DESCRIPTION", "AGE")
			for _, tok := range list.Items {
				t.row(tok.Name, string(tok.Role), tokenExpires(&tok, now), orNone(tok.Description), age(tok.CreationTimestamp, now))
			}
			return t.flush()
		},
	}
}

// tokenExpires is the EXPIRES column: the time as kubeadm prints it, and
// whether it has passed.
func tokenExpires(t *api.Token, now time.Time) string {
	if t.Expires == nil {
		return "<never>"
	}
	s := t.Expires.UTC().Format(time.RFC3339)
	if t.Expired(now) {
		s += " (expired)"
	}
	return s
}

func tokenRevokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke API tokens: every agent refuses them once the revocation is committed",
		ArgsUsage: "ID [ID...]",
		Action: func(c *cli.Context) error {
			ids, err := interspersed(c)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return usageError{errors.New("token revoke needs the id of a token (see token list)")}
			}
			cl, err := newClient(c)
			if err != nil {
				return err
			}
			for _, id := range ids {
				// A whole token is accepted too: only its id is sent.
				id, _, _ = strings.Cut(id, ".")
				ctx, cancel := requestContext(c)
				_, err = cl.RevokeToken(ctx, id)
				cancel()
				if err != nil {
					return statusError(err)
				}
				fmt.Fprintf(c.App.Writer, "token %q revoked\n", id)
			}
			return nil
		},
	}
}
