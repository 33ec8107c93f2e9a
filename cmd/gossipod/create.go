package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/hash"

	"github.com/gossipod/gossipod/api"
)

// createCommand is kubectl create's generators for configuration: a
// ConfigMap or a Secret built on the client from files, directories, env
// files or literal values, exactly as kubectl builds them (same keys, same
// errors, same --append-hash), then created through the API; and for the
// RBAC bindings, built from --clusterrole and the subjects' flags.
func createCommand() *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "create a ConfigMap or a Secret from files, directories, env files or literal values, or a RoleBinding or ClusterRoleBinding",
		Subcommands: []*cli.Command{
			createConfigMapCommand(),
			createSecretCommand(),
			createRoleBindingCommand(),
			createClusterRoleBindingCommand(),
		},
		Action: unknownSubcommand,
	}
}

// unknownSubcommand is the Action of a command that only groups others:
// its help without arguments, else kubectl's (cobra's) refusal of what is
// not one of them, as a usage error.
func unknownSubcommand(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	return usageError{fmt.Errorf("unknown command %q for %q", c.Args().First(), c.Command.HelpName)}
}

func createConfigMapCommand() *cli.Command {
	return &cli.Command{
		Name:    "configmap",
		Aliases: []string{"cm"},
		Usage:   "create a ConfigMap from a local file, directory or literal value",
		Description: "As kubectl create configmap. A file's key is its basename unless KEY= names\n" +
			"another; a directory gives each of its regular files under its name (not its\n" +
			"subdirectories, symlinks, devices or pipes). A file that is not UTF-8 goes to\n" +
			"binaryData. An env file holds KEY=VALUE lines (# comments and blank lines\n" +
			"skipped; a KEY alone takes its value from the environment).\n\n" +
			"gossipod create configmap my-config --from-file=path/to/bar\n" +
			"gossipod create configmap my-config --from-file=key1=/path/to/file1.txt --from-file=key2=/path/to/file2.txt\n" +
			"gossipod create configmap my-config --from-literal=key1=config1 --from-literal=key2=config2\n" +
			"gossipod create configmap my-config --from-env-file=path/to/bar.env",
		ArgsUsage: "NAME [--from-file=[KEY=]SOURCE] [--from-literal=KEY=VALUE] [--from-env-file=PATH] [--dry-run=none|client|server]",
		Flags:     append(sourceFlags("configmap"), createFlags("configmap")...),
		Action: func(c *cli.Context) error {
			name, o, err := createArgs(c)
			if err != nil {
				return err
			}
			src := sourcesOf(c)
			if err := src.validate(); err != nil {
				return err
			}
			cm, err := configMapFromSources(name, o.objectNamespace, src)
			if err != nil {
				return err
			}
			if o.appendHash {
				h, err := hash.ConfigMapHash(cm)
				if err != nil {
					return err
				}
				cm.Name = fmt.Sprintf("%s-%s", cm.Name, h)
			}
			return submitCreate(c, o, coreResource("configmaps"), "configmap", cm, "failed to create configmap: ")
		},
	}
}

func createSecretCommand() *cli.Command {
	return &cli.Command{
		Name:  "secret",
		Usage: "create a secret using a specified subcommand (docker-registry, generic, tls)",
		Description: "A docker-registry secret is for pulling images from a registry that asks\n" +
			"for credentials; a generic secret is of type Opaque (or --type); a tls secret\n" +
			"holds a certificate and its private key.",
		Subcommands: []*cli.Command{
			createSecretDockerRegistryCommand(),
			createSecretGenericCommand(),
			createSecretTLSCommand(),
		},
		Action: unknownSubcommand,
	}
}

func createSecretGenericCommand() *cli.Command {
	return &cli.Command{
		Name:  "generic",
		Usage: "create a secret from a local file, directory, or literal value",
		Description: "As kubectl create secret generic: the sources of create configmap; every\n" +
			"value goes to data, text or not.\n\n" +
			"gossipod create secret generic my-secret --from-file=path/to/bar\n" +
			"gossipod create secret generic my-secret --from-file=ssh-privatekey=path/to/id_rsa --from-file=ssh-publickey=path/to/id_rsa.pub\n" +
			"gossipod create secret generic my-secret --from-literal=key1=supersecret --from-literal=key2=topsecret\n" +
			"gossipod create secret generic my-secret --from-env-file=path/to/foo.env --from-env-file=path/to/bar.env",
		ArgsUsage: "NAME [--type=string] [--from-file=[KEY=]SOURCE] [--from-literal=KEY=VALUE] [--dry-run=none|client|server]",
		Flags: append(append(sourceFlags("secret"),
			&cli.StringFlag{Name: "type", Usage: "the type of secret to create (default: Opaque)"}),
			createFlags("secret")...),
		Action: func(c *cli.Context) error {
			name, o, err := createArgs(c)
			if err != nil {
				return err
			}
			src := sourcesOf(c)
			if err := src.validate(); err != nil {
				return err
			}
			s, err := secretFromSources(name, o.objectNamespace, api.SecretType(c.String("type")), src)
			if err != nil {
				return err
			}
			return createSecret(c, o, s)
		},
	}
}

func createSecretDockerRegistryCommand() *cli.Command {
	return &cli.Command{
		Name:  "docker-registry",
		Usage: "create a secret for use with a Docker registry",
		Description: "As kubectl create secret docker-registry: a kubernetes.io/dockerconfigjson\n" +
			"Secret whose .dockerconfigjson is {\"auths\":{SERVER:{\"username\",\"password\",\n" +
			"\"email\",\"auth\"}}}, auth being base64(username:password); or, with --from-file,\n" +
			"an existing docker config file.\n\n" +
			"gossipod create secret docker-registry my-secret --docker-server=DOCKER_REGISTRY_SERVER --docker-username=DOCKER_USER --docker-password=DOCKER_PASSWORD --docker-email=DOCKER_EMAIL\n" +
			"gossipod create secret docker-registry my-secret --from-file=path/to/.docker/config.json",
		ArgsUsage: "NAME --docker-username=user --docker-password=password --docker-email=email [--docker-server=string] [--from-file=[KEY=]SOURCE] [--dry-run=none|client|server]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "docker-server", Value: defaultDockerServer, Usage: "server location for Docker registry"},
			&cli.StringFlag{Name: "docker-username", Usage: "username for Docker registry authentication"},
			&cli.StringFlag{Name: "docker-password", Usage: "password for Docker registry authentication"},
			&cli.StringFlag{Name: "docker-email", Usage: "email for Docker registry"},
			&cli.StringSliceFlag{Name: "from-file", KeepSpace: true, Usage: "a docker config file, under .dockerconfigjson unless [KEY=] names " +
				"another key (for this command, it should always be .dockerconfigjson); repeatable or comma-separated"},
		}, createFlags("secret")...),
		Action: func(c *cli.Context) error {
			name, o, err := createArgs(c)
			if err != nil {
				return err
			}
			do := dockerRegistryOptions{server: c.String("docker-server"), username: c.String("docker-username"),
				password: c.String("docker-password"), email: c.String("docker-email"), files: c.StringSlice("from-file")}
			if err := do.validate(); err != nil {
				return err
			}
			s, err := dockerRegistrySecret(name, o.objectNamespace, do)
			if err != nil {
				return err
			}
			return createSecret(c, o, s)
		},
	}
}

func createSecretTLSCommand() *cli.Command {
	return &cli.Command{
		Name:  "tls",
		Usage: "create a TLS secret from a PEM certificate and its private key",
		Description: "As kubectl create secret tls: a kubernetes.io/tls Secret with tls.crt and\n" +
			"tls.key, refused unless the certificate and the key are a pair.\n\n" +
			"gossipod create secret tls tls-secret --cert=path/to/tls.crt --key=path/to/tls.key",
		ArgsUsage: "NAME --cert=path/to/cert/file --key=path/to/key/file [--dry-run=none|client|server]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "cert", Usage: "path to PEM encoded public key certificate"},
			&cli.StringFlag{Name: "key", Usage: "path to private key associated with given certificate"},
		}, createFlags("secret")...),
		Action: func(c *cli.Context) error {
			name, o, err := createArgs(c)
			if err != nil {
				return err
			}
			s, err := tlsSecret(name, o.objectNamespace, c.String("cert"), c.String("key"))
			if err != nil {
				return err
			}
			return createSecret(c, o, s)
		},
	}
}

// createSecret appends the hash if asked, and creates s.
func createSecret(c *cli.Context, o createOptions, s *api.Secret) error {
	if o.appendHash {
		h, err := hash.SecretHash(s)
		if err != nil {
			return err
		}
		s.Name = fmt.Sprintf("%s-%s", s.Name, h)
	}
	return submitCreate(c, o, coreResource("secrets"), "secret", s, "failed to create secret ")
}

// sourceFlags are --from-literal, --from-file and --from-env-file.
// --from-literal keeps each value whole (a value may hold commas), as
// kubectl's string array does; the other two also split on commas, as
// kubectl's string slices do.
func sourceFlags(kind string) []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "from-literal", Value: &stringArray{}, Usage: "a key and literal value to insert in the " + kind + " (mykey=somevalue); repeatable"},
		&cli.StringSliceFlag{Name: "from-file", KeepSpace: true, Usage: "[KEY=]PATH: a file, under its basename or KEY, or a directory, " +
			"each of whose regular files is taken under its name; repeatable or comma-separated"},
		&cli.StringSliceFlag{Name: "from-env-file", KeepSpace: true, Usage: "a file of KEY=VALUE lines to take the " + kind + "'s keys from; repeatable or comma-separated"},
	}
}

// sourcesOf reads the source flags.
func sourcesOf(c *cli.Context) dataSources {
	var lits []string
	if a, ok := c.Generic("from-literal").(*stringArray); ok {
		lits = a.values
	}
	return dataSources{literals: lits, files: c.StringSlice("from-file"), envFiles: c.StringSlice("from-env-file")}
}

// createFlags are the flags every create subcommand has, as kubectl's.
func createFlags(kind string) []cli.Flag {
	return []cli.Flag{
		namespaceFlag(),
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output format: json, yaml or name (default: " + kind + "/NAME created)"},
		&cli.StringFlag{Name: "dry-run", Value: dryRunNone, Usage: `"none", "server", or "client": with client, only print the object that would be sent, without sending it; ` +
			"with server, ask the server not to persist it (gossipod's API refuses such a request)"},
		&cli.BoolFlag{Name: "append-hash", Usage: "append a hash of the " + kind + " to its name"},
		&cli.BoolFlag{Name: "save-config", Usage: "save the " + kind + "'s configuration in its kubectl.kubernetes.io/last-applied-configuration " +
			"annotation, for a later kubectl apply"},
	}
}

// The --dry-run strategies.
const (
	dryRunNone   = "none"
	dryRunClient = "client"
	dryRunServer = "server"
)

// createOptions are what every create subcommand's flags say beside the
// object itself.
type createOptions struct {
	// namespace is the namespace the object is created in; objectNamespace
	// is the one its metadata names, set only when -n was given, as
	// kubectl's is (the server fills in the request's).
	namespace, objectNamespace string
	output                     string
	dryRun                     string
	appendHash, saveConfig     bool
}

// createArgs reads the NAME and the common flags of a create subcommand.
func createArgs(c *cli.Context) (string, createOptions, error) {
	args, err := interspersed(c)
	if err != nil {
		return "", createOptions{}, err
	}
	if len(args) != 1 {
		return "", createOptions{}, usageError{fmt.Errorf("exactly one NAME is required, got %d", len(args))}
	}
	o := createOptions{namespace: namespace(c), appendHash: c.Bool("append-hash"), saveConfig: c.Bool("save-config")}
	if c.IsSet("namespace") {
		o.objectNamespace = o.namespace
	}
	if o.output, err = checkOutput(c, "json", "yaml", "name"); err != nil {
		return "", createOptions{}, err
	}
	if o.dryRun, err = dryRunStrategy(c); err != nil {
		return "", createOptions{}, err
	}
	return args[0], o, nil
}

// dryRunStrategy reads --dry-run as kubectl does: none, client or server,
// or a boolean (deprecated: true is client, false none).
func dryRunStrategy(c *cli.Context) (string, error) {
	v := c.String("dry-run")
	switch v {
	case dryRunNone, dryRunClient, dryRunServer:
		return v, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return "", usageError{fmt.Errorf(`Invalid dry-run value (%v). Must be "none", "server", or "client".`, v)}
	}
	strategy := dryRunNone
	if b {
		strategy = dryRunClient
	}
	fmt.Fprintf(c.App.ErrWriter, "Warning: --dry-run=%v is deprecated (boolean value) and can be replaced with --dry-run=%s.\n", v, strategy)
	return strategy, nil
}

// coreResource is a namespaced resource of the core group (v1).
func coreResource(resource string) apiResource {
	return apiResource{Version: "v1", Resource: resource, Namespaced: true}
}

// submitCreate creates obj as a resource r (in the namespace of o when r
// is namespaced), unless it is a client dry run, and prints the result:
// "configmap/NAME created" (with " (dry run)" or " (server dry run)"),
// KIND/NAME for -o name, or the object (as created, or as it would be
// sent) for -o json|yaml. A failure is reported as kubectl reports it,
// after failure ("failed to create configmap: ").
func submitCreate[T any, PT interface {
	*T
	metav1.Object
}](c *cli.Context, o createOptions, r apiResource, kind string, obj PT, failure string) error {
	if o.saveConfig {
		if err := saveConfig(obj); err != nil {
			return err
		}
	}
	out := obj
	if o.dryRun != dryRunClient {
		cl, err := newClient(c)
		if err != nil {
			return err
		}
		path := r.path(o.namespace, "")
		if o.dryRun == dryRunServer {
			path += "?dryRun=All"
		}
		ctx, cancel := requestContext(c)
		defer cancel()
		created := PT(new(T))
		if err := cl.Do(ctx, http.MethodPost, path, obj, created); err != nil {
			return createError{prefix: failure, err: err}
		}
		out = created
	}
	switch o.output {
	case "json", "yaml":
		return printObject(c.App.Writer, o.output, out)
	case "name":
		_, err := fmt.Fprintf(c.App.Writer, "%s/%s\n", kind, out.GetName())
		return err
	}
	suffix := map[string]string{dryRunClient: " (dry run)", dryRunServer: " (server dry run)"}[o.dryRun]
	_, err := fmt.Fprintf(c.App.Writer, "%s/%s created%s\n", kind, out.GetName(), suffix)
	return err
}

// stringArray is a repeatable flag whose every value is taken whole, as
// pflag's StringArray (kubectl's --from-literal) takes it, commas and
// blanks included.
type stringArray struct{ values []string }

// Set appends one value.
func (s *stringArray) Set(v string) error {
	s.values = append(s.values, v)
	return nil
}

// String is the values, for urfave/cli's help and flag.Value.
func (s *stringArray) String() string { return strings.Join(s.values, ",") }

// saveConfig is --save-config: obj's kubectl.kubernetes.io/last-applied-
// configuration annotation holds obj's JSON without that annotation,
// encoded as kubectl encodes it (one line, with its newline), so that a
// later kubectl apply computes its three-way patch from it.
func saveConfig(obj metav1.Object) error {
	annotations := maps.Clone(obj.GetAnnotations())
	delete(annotations, corev1.LastAppliedConfigAnnotation)
	obj.SetAnnotations(annotations)
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(obj); err != nil {
		return err
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[corev1.LastAppliedConfigAnnotation] = b.String()
	obj.SetAnnotations(annotations)
	return nil
}
