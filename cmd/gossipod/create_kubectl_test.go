package main

import (
	"bytes"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	kubectlcreate "k8s.io/kubectl/pkg/cmd/create"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// The tests' oracle: kubectl's own `create configmap` and `create secret`
// code (k8s.io/kubectl/pkg/cmd/create, the release go.mod pins), run as
// `kubectl create … --dry-run=client -o OUTPUT` runs it, with no server:
// the object kubectl would send, what it would print, or its error.
// gossipod's CLI must build the same object and print the same bytes.

// kubectlFlags are the boolean flags of a create command: --append-hash
// and --save-config.
type kubectlFlags struct{ appendHash, saveConfig bool }

// kubectlResult is what one kubectl create run gave.
type kubectlResult struct {
	obj runtime.Object
	out string
}

// kubectlPrint sets up a create command's printer as its Complete does
// for a client dry run with -o output ("" for kubectl's default), and
// returns the PrintObj that records the object and the printed bytes.
func kubectlPrint(pf *genericclioptions.PrintFlags, output string, res *kubectlResult) (func(runtime.Object) error, error) {
	pf.OutputFormat = &output
	cmdutil.PrintFlagsWithDryRunStrategy(pf, cmdutil.DryRunClient)
	printer, err := pf.ToPrinter()
	if err != nil {
		return nil, err
	}
	return func(obj runtime.Object) error {
		var b bytes.Buffer
		err := printer.PrintObj(obj, &b)
		res.obj, res.out = obj, b.String()
		return err
	}, nil
}

// kubectlNamespace is what kubectl's namespace loader gives a create
// command: the -n namespace, enforced (written into the object), or the
// default, not enforced.
func kubectlNamespace(ns string) (string, bool) {
	if ns == "" {
		return "default", false
	}
	return ns, true
}

// kubectlConfigMap runs kubectl create configmap.
func kubectlConfigMap(name, ns string, src dataSources, fl kubectlFlags, output string) (*corev1.ConfigMap, string, error) {
	o := kubectlcreate.NewConfigMapOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Name, o.AppendHash, o.CreateAnnotation = name, fl.appendHash, fl.saveConfig
	o.FileSources, o.LiteralSources, o.EnvFileSources = src.files, src.literals, src.envFiles
	o.Namespace, o.EnforceNamespace = kubectlNamespace(ns)
	o.DryRunStrategy = cmdutil.DryRunClient
	var res kubectlResult
	var err error
	if o.PrintObj, err = kubectlPrint(o.PrintFlags, output, &res); err != nil {
		return nil, "", err
	}
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	if err := o.Run(); err != nil {
		return nil, "", err
	}
	return res.obj.(*corev1.ConfigMap), res.out, nil
}

// kubectlSecretGeneric runs kubectl create secret generic.
func kubectlSecretGeneric(name, ns, typ string, src dataSources, fl kubectlFlags, output string) (*corev1.Secret, string, error) {
	o := kubectlcreate.NewSecretOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Name, o.Type, o.AppendHash, o.CreateAnnotation = name, typ, fl.appendHash, fl.saveConfig
	o.FileSources, o.LiteralSources, o.EnvFileSources = src.files, src.literals, src.envFiles
	o.Namespace, o.EnforceNamespace = kubectlNamespace(ns)
	o.DryRunStrategy = cmdutil.DryRunClient
	var res kubectlResult
	var err error
	if o.PrintObj, err = kubectlPrint(o.PrintFlags, output, &res); err != nil {
		return nil, "", err
	}
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	if err := o.Run(); err != nil {
		return nil, "", err
	}
	return res.obj.(*corev1.Secret), res.out, nil
}

// kubectlSecretDockerRegistry runs kubectl create secret docker-registry;
// a server of "" is kubectl's default. The .dockerconfigjson= its Complete
// puts before a --from-file without a key is put here.
func kubectlSecretDockerRegistry(name, ns string, d dockerRegistryOptions, fl kubectlFlags, output string) (*corev1.Secret, string, error) {
	o := kubectlcreate.NewSecretDockerRegistryOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Name, o.AppendHash, o.CreateAnnotation = name, fl.appendHash, fl.saveConfig
	o.Username, o.Password, o.Email = d.username, d.password, d.email
	if d.server != "" {
		o.Server = d.server
	}
	for _, f := range d.files {
		if !strings.Contains(f, "=") {
			f = corev1.DockerConfigJsonKey + "=" + f
		}
		o.FileSources = append(o.FileSources, f)
	}
	o.Namespace, o.EnforceNamespace = kubectlNamespace(ns)
	o.DryRunStrategy = cmdutil.DryRunClient
	var res kubectlResult
	var err error
	if o.PrintObj, err = kubectlPrint(o.PrintFlags, output, &res); err != nil {
		return nil, "", err
	}
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	if err := o.Run(); err != nil {
		return nil, "", err
	}
	return res.obj.(*corev1.Secret), res.out, nil
}

// kubectlSecretTLS runs kubectl create secret tls.
func kubectlSecretTLS(name, ns, cert, key string, fl kubectlFlags, output string) (*corev1.Secret, string, error) {
	o := kubectlcreate.NewSecretTLSOptions(genericiooptions.NewTestIOStreamsDiscard())
	o.Name, o.Cert, o.Key = name, cert, key
	o.AppendHash, o.CreateAnnotation = fl.appendHash, fl.saveConfig
	o.Namespace, o.EnforceNamespace = kubectlNamespace(ns)
	o.DryRunStrategy = cmdutil.DryRunClient
	var res kubectlResult
	var err error
	if o.PrintObj, err = kubectlPrint(o.PrintFlags, output, &res); err != nil {
		return nil, "", err
	}
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	if err := o.Run(); err != nil {
		return nil, "", err
	}
	return res.obj.(*corev1.Secret), res.out, nil
}
