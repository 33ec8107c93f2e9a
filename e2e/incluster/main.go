// Command incluster is the client-go program of the e2e test of
// ServiceAccount tokens: run in a pod, it builds client-go's in-cluster
// configuration (KUBERNETES_SERVICE_HOST/PORT, the token and ca.crt under
// /var/run/secrets/kubernetes.io/serviceaccount), exactly as an operator or
// controller running in a Kubernetes pod does, then
//
//  1. lists the pods of its own namespace, and
//  2. tries to create a ConfigMap there,
//
// printing one line per step: "list: ok N NAME,NAME..." or "list: error
// REASON: MESSAGE", and "create: ok" or "create: error REASON: MESSAGE".
// The tests build it statically (pods have no libc) and give it to a pod
// through a hostPath volume. It exits 0 when it could build the
// configuration at all.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func main() {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "in-cluster configuration:", err)
		os.Exit(1)
	}
	cfg.Timeout = 10 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	ns, err := os.ReadFile(namespaceFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "namespace:", err)
		os.Exit(1)
	}
	namespace := strings.TrimSpace(string(ns))
	ctx := context.Background()

	pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		report("list", err)
	} else {
		names := make([]string, len(pods.Items))
		for i, p := range pods.Items {
			names[i] = p.Name
		}
		fmt.Printf("list: ok %d %s\n", len(names), strings.Join(names, ","))
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-a-pod"}, Data: map[string]string{"k": "v"}}
	if _, err := client.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		report("create", err)
	} else {
		fmt.Println("create: ok")
	}
}

// report prints a failed step with the API's reason (Forbidden,
// Unauthorized...) so the test can tell a refusal from a broken path.
func report(step string, err error) {
	fmt.Printf("%s: error %s: %v\n", step, apierrors.ReasonForError(err), err)
}
