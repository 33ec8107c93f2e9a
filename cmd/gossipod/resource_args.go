package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// defaultNamespace is the namespace of commands and objects that name none,
// as kubectl's default context has it.
const defaultNamespace = "default"

// namespaceFlag is -n/--namespace.
func namespaceFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "namespace",
		Aliases: []string{"n"},
		Usage:   "the namespace of the request (default: " + defaultNamespace + ")",
	}
}

// namespace is the -n of the command line, or the default namespace.
func namespace(c *cli.Context) string {
	if ns := c.String("namespace"); ns != "" {
		return ns
	}
	return defaultNamespace
}

// Resource types the client commands know, by their plural name.
const (
	resourcePods        = "pods"
	resourceNodes       = "nodes"
	resourceDeployments = "deployments"
	resourceReplicaSets = "replicasets"
)

// resourceType maps what a user may type (pods, pod, po; nodes, node, no;
// deployments, deployment, deploy, deployment.apps, …; replicasets, rs, …)
// to the plural resource name, or "".
func resourceType(s string) string {
	switch strings.ToLower(s) {
	case "pods", "pod", "po":
		return resourcePods
	case "nodes", "node", "no":
		return resourceNodes
	case "deployments", "deployment", "deploy", "deployments.apps", "deployment.apps", "deploy.apps":
		return resourceDeployments
	case "replicasets", "replicaset", "rs", "replicasets.apps", "replicaset.apps", "rs.apps":
		return resourceReplicaSets
	}
	return ""
}

// resourceArgs reads kubectl's two forms of naming objects: TYPE [NAME...]
// and TYPE/NAME... (all of one type here). It returns the plural resource
// type and the names.
func resourceArgs(args []string, verb string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, usageError{fmt.Errorf("you must specify the type of resource to %s, e.g. gossipod %s pods", verb, verb)}
	}
	if !strings.Contains(args[0], "/") {
		kind := resourceType(args[0])
		if kind == "" {
			return "", nil, usageError{fmt.Errorf("the server doesn't have a resource type %q", args[0])}
		}
		for _, a := range args[1:] {
			if strings.Contains(a, "/") {
				return "", nil, usageError{fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'gossipod %s pods/NAME' instead of 'gossipod %s pods pods/NAME')", verb, verb)}
			}
		}
		return kind, args[1:], nil
	}
	var kind string
	var names []string
	for _, a := range args {
		t, name, ok := strings.Cut(a, "/")
		if !ok || name == "" {
			return "", nil, usageError{fmt.Errorf("arguments in resource/name form must have a single resource and name, got %q", a)}
		}
		k := resourceType(t)
		if k == "" {
			return "", nil, usageError{fmt.Errorf("the server doesn't have a resource type %q", t)}
		}
		if kind != "" && k != kind {
			return "", nil, usageError{fmt.Errorf("arguments in resource/name form must all be of one resource type, got %s and %s", kind, k)}
		}
		kind = k
		names = append(names, name)
	}
	return kind, names, nil
}
