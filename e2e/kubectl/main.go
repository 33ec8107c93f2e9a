// Command kubectl is upstream kubectl, built from k8s.io/kubectl at the
// release of the other k8s.io modules in go.mod, for the e2e tests that drive
// a gossipod cluster with the client its users bring. It is kubectl's own
// main (k8s.io/kubernetes/cmd/kubectl) without the parts that need the
// kubernetes repository: nothing here is gossipod's.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
