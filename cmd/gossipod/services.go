package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// servicePath is the REST path of a Service, or of a namespace's Services
// when name is "".
func servicePath(namespace, name string) string {
	return apiResource{Version: "v1", Resource: "services", Namespaced: true}.path(namespace, name)
}

// applyService creates the Service, or updates it where it differs from
// the manifest, with the resourceVersion it was compared with. What the
// cluster allocated and the manifest leaves out (the cluster IPs, node
// ports) is kept, as kubectl apply's merge keeps it.
func applyService(ctx context.Context, cl *client.Client, desired *api.Service, source string) (applyResult, *api.Service, error) {
	for attempt := 1; ; attempt++ {
		var live api.Service
		err := cl.Do(ctx, http.MethodGet, servicePath(desired.Namespace, desired.Name), nil, &live)
		if isNotFound(err) {
			create := cloneJSON(desired)
			clearServiceServerFields(create)
			create.UID, create.ResourceVersion = "", ""
			var created api.Service
			err := cl.Do(ctx, http.MethodPost, servicePath(desired.Namespace, ""), create, &created)
			if err == nil {
				return applyCreated, &created, nil
			}
			if hasReason(err, api.StatusReasonAlreadyExists) && attempt < applyAttempts {
				continue
			}
			return "", nil, withContext(err, fmt.Sprintf("error when creating %q: ", source))
		}
		if err != nil {
			return "", nil, withContext(err, fmt.Sprintf("error when retrieving current configuration of service %q from server for: %q: ", desired.Name, source))
		}
		update, changed := serviceUpdate(desired, &live)
		if !changed {
			return applyUnchanged, &live, nil
		}
		var updated api.Service
		err = cl.Do(ctx, http.MethodPut, servicePath(desired.Namespace, desired.Name), update, &updated)
		if err == nil {
			return applyConfigured, &updated, nil
		}
		if (hasReason(err, api.StatusReasonConflict) || isNotFound(err)) && attempt < applyAttempts {
			continue
		}
		return "", nil, withContext(err, fmt.Sprintf("error when updating %q: ", source))
	}
}

func clearServiceServerFields(s *api.Service) {
	s.Status = corev1.ServiceStatus{}
	s.CreationTimestamp = api.Time{}
	s.DeletionTimestamp = nil
	s.DeletionGracePeriodSeconds = nil
	s.Generation = 0
}

// serviceUpdate decides apply's update of a live Service: the manifest
// with what the cluster allocated and the manifest leaves unset (cluster
// IPs, node ports of the same port), defaulted as the server defaults it,
// compared with the live Service's labels, annotations and spec.
func serviceUpdate(desired, live *api.Service) (*api.Service, bool) {
	update := cloneJSON(desired)
	clearServiceServerFields(update)
	if update.Spec.ClusterIP == "" && len(update.Spec.ClusterIPs) == 0 {
		update.Spec.ClusterIP, update.Spec.ClusterIPs = live.Spec.ClusterIP, live.Spec.ClusterIPs
	}
	for i := range update.Spec.Ports {
		p := &update.Spec.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		for _, lp := range live.Spec.Ports {
			if lp.Port == p.Port && (lp.Protocol == p.Protocol || p.Protocol == "" && lp.Protocol == api.ProtocolTCP) {
				p.NodePort = lp.NodePort
			}
		}
	}
	want := cloneJSON(update)
	api.SetServiceDefaults(want)
	have := cloneJSON(live)
	api.SetServiceDefaults(have)
	if maps.Equal(want.Labels, have.Labels) && maps.Equal(want.Annotations, have.Annotations) &&
		equality.Semantic.DeepEqual(want.Spec, have.Spec) {
		return nil, false
	}
	update.UID, update.ResourceVersion = live.UID, live.ResourceVersion
	return update, true
}

// exposeCommand is kubectl expose for Deployments: a Service selecting the
// Deployment's pods.
func exposeCommand() *cli.Command {
	return &cli.Command{
		Name:  "expose",
		Usage: "create a Service that selects a Deployment's pods",
		Description: "As kubectl expose: the Service's selector is the Deployment's\n" +
			"spec.selector.matchLabels, its labels the Deployment's; without --port, its\n" +
			"ports are those of the pod template's containers (named port-1, port-2, ...\n" +
			"when there are several).\n\n" +
			"gossipod expose deployment web --port 80 --target-port 8080\n" +
			"gossipod expose deploy/web --port 80 --type NodePort --name web-public",
		ArgsUsage: "deployment NAME | deployment/NAME",
		Flags: []cli.Flag{
			namespaceFlag(),
			&cli.StringFlag{Name: "port", Usage: "the port the Service serves (default: the containers' ports)"},
			&cli.StringFlag{Name: "target-port", Usage: "the container port (number or name) traffic is sent to (default: --port)"},
			&cli.StringFlag{Name: "protocol", Usage: "the port's protocol: TCP, UDP or SCTP (default: TCP, or the containers' ports')"},
			&cli.StringFlag{Name: "type", Usage: "the Service's type: ClusterIP (default) or NodePort"},
			&cli.StringFlag{Name: "name", Usage: "the Service's name (default: the Deployment's)"},
		},
		Action: runExpose,
	}
}

func runExpose(c *cli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	kind, names, err := resourceArgs(args, "expose")
	if err != nil {
		return err
	}
	if kind != resourceDeployments {
		return usageError{fmt.Errorf("cannot expose a %s: only deployments can be exposed", strings.TrimSuffix(kind, "s"))}
	}
	if len(names) != 1 {
		return usageError{errors.New("expose takes one deployment: deployment NAME")}
	}
	svcType := corev1.ServiceType(c.String("type"))
	switch svcType {
	case "", corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
	default:
		return usageError{fmt.Errorf("--type %q: want ClusterIP or NodePort", svcType)}
	}
	cl, err := newClient(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	ns := namespace(c)
	d, err := cl.Deployment(ctx, ns, names[0])
	if err != nil {
		return statusError(err)
	}
	svc, err := exposedService(d, exposeOptions{port: c.String("port"), targetPort: c.String("target-port"),
		protocol: c.String("protocol"), svcType: svcType, name: c.String("name")})
	if err != nil {
		return err
	}
	var created api.Service
	if err := cl.Do(ctx, http.MethodPost, servicePath(ns, ""), svc, &created); err != nil {
		return statusError(err)
	}
	fmt.Fprintf(c.App.Writer, "service/%s exposed\n", created.Name)
	return nil
}

// exposeOptions are expose's flags.
type exposeOptions struct {
	port, targetPort, protocol string
	svcType                    corev1.ServiceType
	name                       string
}

// exposedService is the Service kubectl expose generates for d: the
// selector from spec.selector.matchLabels (a selector with expressions
// cannot be a Service's), the labels d's, the ports the flag's or the pod
// template's.
func exposedService(d *api.Deployment, o exposeOptions) (*api.Service, error) {
	sel := d.Spec.Selector
	if sel == nil || len(sel.MatchExpressions) > 0 {
		return nil, fmt.Errorf("couldn't convert expressions of deployment %q to map-based selector format", d.Name)
	}
	if len(sel.MatchLabels) == 0 {
		return nil, fmt.Errorf("couldn't retrieve selectors via --selector flag or introspection of deployment %q", d.Name)
	}
	svc := &api.Service{
		TypeMeta:   api.TypeMeta{Kind: "Service", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: d.Name, Namespace: d.Namespace, Labels: maps.Clone(d.Labels)},
		Spec:       api.ServiceSpec{Selector: maps.Clone(sel.MatchLabels), Type: o.svcType},
	}
	if o.name != "" {
		svc.Name = o.name
	}
	protocol := api.Protocol(strings.ToUpper(o.protocol))
	switch protocol {
	case "", api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP:
	default:
		return nil, usageError{fmt.Errorf("--protocol %q: want TCP, UDP or SCTP", o.protocol)}
	}
	if o.port != "" {
		port, err := strconv.ParseInt(o.port, 10, 32)
		if err != nil || port < 1 || port > 65535 {
			return nil, usageError{fmt.Errorf("--port %q: want a number from 1 to 65535", o.port)}
		}
		p := api.ServicePort{Port: int32(port), Protocol: protocol, TargetPort: intstr.FromInt32(int32(port))}
		if p.Protocol == "" {
			p.Protocol = api.ProtocolTCP
		}
		svc.Spec.Ports = []api.ServicePort{p}
	} else {
		for _, ctr := range d.Spec.Template.Spec.Containers {
			for _, cp := range ctr.Ports {
				p := api.ServicePort{Port: cp.ContainerPort, Protocol: cp.Protocol, TargetPort: intstr.FromInt32(cp.ContainerPort)}
				if protocol != "" {
					p.Protocol = protocol
				}
				if p.Protocol == "" {
					p.Protocol = api.ProtocolTCP
				}
				svc.Spec.Ports = append(svc.Spec.Ports, p)
			}
		}
		if len(svc.Spec.Ports) == 0 {
			return nil, usageError{fmt.Errorf("couldn't find port via --port flag or introspection of deployment %q", d.Name)}
		}
	}
	if o.targetPort != "" {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].TargetPort = intstr.Parse(o.targetPort)
		}
	}
	if len(svc.Spec.Ports) > 1 {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].Name = fmt.Sprintf("port-%d", i+1)
		}
	}
	return svc, nil
}
