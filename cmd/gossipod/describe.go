package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

func describeCommand() *cli.Command {
	return &cli.Command{
		Name:  "describe",
		Usage: "show details of objects of any kind, with their events (kubectl's own layout for pods, deployments, replicasets, nodes, services, endpointslices, configmaps, secrets, rolebindings, clusterrolebindings and clusterroles)",
		Description: "gossipod describe pod web\n" +
			"gossipod describe pods -l app=web\n" +
			"gossipod describe deployment web\n" +
			"gossipod describe rs -l app=web\n" +
			"gossipod describe node node-1\n" +
			"gossipod describe svc web\n" +
			"gossipod describe endpointslices -l kubernetes.io/service-name=web",
		ArgsUsage: "TYPE [NAME...] | TYPE/NAME...",
		Flags: []cli.Flag{
			namespaceFlag(),
			&cli.StringFlag{Name: "selector", Aliases: []string{"l"}, Usage: "describe the objects with these labels"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersed(c)
			if err != nil {
				return err
			}
			cl, err := newClient(c)
			if err != nil {
				return err
			}
			ctx, cancel := requestContext(c)
			resources, err := discover(ctx, cl)
			cancel()
			if err != nil {
				return err
			}
			types, typedNames, err := typedArgs(resources, args, "describe")
			if err != nil {
				return err
			}
			if len(types) != 1 {
				return usageError{fmt.Errorf("describe takes one resource type, got %d", len(types))}
			}
			r, names := types[0], typedNames[0]
			if len(names) > 0 && c.IsSet("selector") {
				return usageError{errors.New("name cannot be provided when a selector is specified")}
			}
			var texts []string
			var failed []error
			switch {
			case r.isCore("", "pods"):
				texts, failed, err = describePods(c, cl, names)
			case r.isCore("apps", "deployments"):
				texts, failed, err = describeDeployments(c, cl, names)
			case r.isCore("apps", "replicasets"):
				texts, failed, err = describeReplicaSets(c, cl, names)
			case r.isCore("", "nodes"):
				if c.IsSet("selector") {
					return usageError{errors.New("--selector is not supported for nodes")}
				}
				texts, failed, err = describeNodes(c, cl, names)
			case r.isCore("", "services"):
				es, _ := resolve(resources, "endpointslices.discovery.k8s.io")
				texts, failed, err = describeServices(c, cl, r, es, names)
			case r.isCore("discovery.k8s.io", "endpointslices"):
				texts, failed, err = describeListed(c, cl, r, names, true, describeEndpointSlice,
					func(es *api.EndpointSlice) string { return string(es.UID) }, nil)
			case r.isCore("", "configmaps"):
				texts, failed, err = describeListed(c, cl, r, names, true, describeConfigMap,
					func(cm *api.ConfigMap) string { return string(cm.UID) }, nil)
			case r.isCore("", "secrets"):
				texts, failed, err = describeListed(c, cl, r, names, true, describeSecret,
					func(s *api.Secret) string { return string(s.UID) }, nil)
			case r.isCore(api.RBACGroup, "rolebindings"):
				texts, failed, err = describeListed(c, cl, r, names, false, describeRoleBinding, nil, nil)
			case r.isCore(api.RBACGroup, "clusterrolebindings"):
				texts, failed, err = describeListed(c, cl, r, names, false, describeClusterRoleBinding, nil, nil)
			case r.isCore(api.RBACGroup, "clusterroles"):
				texts, failed, err = describeListed(c, cl, r, names, false, describeClusterRole, nil, nil)
			default:
				// kubectl's generic describer: every field of the object.
				texts, failed, err = describeListed(c, cl, r, names, true, describeGeneric,
					func(u *unstructured) string { return u.metaString("uid") }, nil)
			}
			if err != nil {
				return err
			}
			for i, t := range texts {
				if i > 0 {
					fmt.Fprint(c.App.Writer, "\n\n")
				}
				fmt.Fprint(c.App.Writer, t)
			}
			for _, err := range failed {
				fmt.Fprintln(c.App.ErrWriter, errorMessage(err))
			}
			if len(failed) > 0 {
				return reportedError{len(failed)}
			}
			return nil
		},
	}
}

// describePods renders the named pods, or those the selector (or nothing)
// picks in the namespace. Missing pods come back as failures.
func describePods(c *cli.Context, cl *client.Client, names []string) ([]string, []error, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	ns := namespace(c)
	var pods []api.Pod
	var failed []error
	if len(names) == 0 {
		list, err := cl.Pods(ctx, client.ListOptions{Namespace: ns, LabelSelector: c.String("selector")})
		if err != nil {
			return nil, nil, statusError(err)
		}
		if len(list.Items) == 0 {
			fmt.Fprintf(c.App.ErrWriter, "No resources found in %s namespace.\n", ns)
		}
		sortPods(list.Items)
		pods = list.Items
	}
	for _, name := range names {
		p, err := cl.Pod(ctx, ns, name)
		if err != nil {
			if !isNotFound(err) {
				return nil, nil, statusError(err)
			}
			failed = append(failed, statusError(err))
			continue
		}
		pods = append(pods, *p)
	}
	var texts []string
	for i := range pods {
		p := &pods[i]
		// As kubectl, a pod whose events cannot be read is described
		// without them.
		var events []api.Event
		el, err := cl.Events(ctx, client.ListOptions{Namespace: p.Namespace, FieldSelector: "involvedObject.uid=" + string(p.UID)})
		if err == nil {
			events = el.Items
			if events == nil {
				events = []api.Event{}
			}
		}
		texts = append(texts, describePod(p, events, time.Now()))
	}
	return texts, failed, nil
}

// describeNodes renders the named nodes, or all of them.
func describeNodes(c *cli.Context, cl *client.Client, names []string) ([]string, []error, error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	var nodes []api.Node
	var failed []error
	if len(names) == 0 {
		list, err := cl.Nodes(ctx)
		if err != nil {
			return nil, nil, statusError(err)
		}
		if len(list.Items) == 0 {
			fmt.Fprintln(c.App.ErrWriter, "No resources found")
		}
		nodes = list.Items
	}
	for _, name := range names {
		n, err := cl.Node(ctx, name)
		if err != nil {
			if !isNotFound(err) {
				return nil, nil, statusError(err)
			}
			failed = append(failed, statusError(err))
			continue
		}
		nodes = append(nodes, *n)
	}
	roles := raftRoles(ctx, cl)
	var texts []string
	for i := range nodes {
		n := &nodes[i]
		// kubectl's selector for the pods that hold a node's resources.
		var pods []api.Pod
		pl, err := cl.Pods(ctx, client.ListOptions{FieldSelector: "spec.nodeName=" + n.Name + ",status.phase!=Succeeded,status.phase!=Failed"})
		if err != nil {
			return nil, nil, statusError(err)
		}
		pods = pl.Items
		sortPods(pods)
		var events []api.Event
		el, err := cl.Events(ctx, client.ListOptions{FieldSelector: "involvedObject.kind=Node,involvedObject.name=" + n.Name})
		if err == nil {
			events = el.Items
			if events == nil {
				events = []api.Event{}
			}
		}
		texts = append(texts, describeNode(n, roles[n.Name], pods, events, time.Now()))
	}
	return texts, failed, nil
}

// raftRoles maps node names to their place in Raft (leader, voter,
// nonvoter), what `get nodes` shows as ROLES; empty if the peers cannot be
// read.
func raftRoles(ctx context.Context, cl *client.Client) map[string]string {
	roles := map[string]string{}
	peers, err := cl.RaftPeers(ctx)
	if err != nil {
		return roles
	}
	for _, p := range peers {
		roles[p.ID] = p.Suffrage
		if p.Leader {
			roles[p.ID] = api.RoleLeader
		}
	}
	return roles
}

// prefixWriter writes kubectl describe's layout: nested levels indented by
// two spaces, "Key:\tvalue" cells aligned by a tabwriter across each run of
// lines, as k8s.io/kubectl/pkg/describe does.
type prefixWriter struct {
	tw *tabwriter.Writer
}

func newPrefixWriter(w io.Writer) *prefixWriter {
	return &prefixWriter{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

func (w *prefixWriter) write(level int, format string, a ...any) {
	fmt.Fprintf(w.tw, strings.Repeat("  ", level)+format, a...)
}

func (w *prefixWriter) flush() { w.tw.Flush() }

// rfc1123 formats a time as kubectl describe does; a time not set is
// "<unset>" (kubectl would print the year 1 for it).
func rfc1123(t api.Time) string {
	if t.IsZero() {
		return "<unset>"
	}
	return t.Format(time.RFC1123Z)
}

// describePod renders a pod the way `kubectl describe pod` does. events nil
// leaves the Events section out (they could not be read).
func describePod(p *api.Pod, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", p.Name)
	w.write(0, "Namespace:\t%s\n", p.Namespace)
	if p.Spec.NodeName == "" {
		w.write(0, "Node:\t<none>\n")
	} else {
		w.write(0, "Node:\t%s\n", p.Spec.NodeName+"/"+p.Status.HostIP)
	}
	if p.Status.StartTime != nil {
		w.write(0, "Start Time:\t%s\n", rfc1123(*p.Status.StartTime))
	}
	writeLabels(w, "Labels", p.Labels)
	writeAnnotations(w, "Annotations", p.Annotations)
	if p.DeletionTimestamp != nil && !api.IsTerminal(p) {
		w.write(0, "Status:\tTerminating (lasts %s)\n", age(*p.DeletionTimestamp, now))
		if p.DeletionGracePeriodSeconds != nil {
			w.write(0, "Termination Grace Period:\t%ds\n", *p.DeletionGracePeriodSeconds)
		}
	} else {
		w.write(0, "Status:\t%s\n", p.Status.Phase)
	}
	if p.Status.Reason != "" {
		w.write(0, "Reason:\t%s\n", p.Status.Reason)
	}
	if p.Status.Message != "" {
		w.write(0, "Message:\t%s\n", p.Status.Message)
	}
	w.write(0, "IP:\t%s\n", p.Status.PodIP)
	if len(p.Status.PodIPs) == 0 {
		w.write(0, "IPs:\t<none>\n")
	} else {
		w.write(0, "IPs:\n")
		for _, ip := range p.Status.PodIPs {
			w.write(1, "IP:\t%s\n", ip.IP)
		}
	}
	for _, o := range p.OwnerReferences {
		if o.Controller != nil && *o.Controller {
			w.write(0, "Controlled By:\t%s/%s\n", o.Kind, o.Name)
		}
	}
	if len(p.Spec.InitContainers) > 0 {
		describeContainers(w, "", "Init Containers", p.Spec.InitContainers, p.Status.InitContainerStatuses)
	}
	describeContainers(w, "", "Containers", p.Spec.Containers, p.Status.ContainerStatuses)
	if len(p.Status.Conditions) > 0 {
		w.write(0, "Conditions:\n  Type\tStatus\n")
		for _, c := range p.Status.Conditions {
			w.write(1, "%v \t%v \n", c.Type, c.Status)
		}
	}
	describeVolumes(w, "", p.Spec.Volumes)
	w.write(0, "QoS Class:\t%s\n", qosClass(p))
	writeLabels(w, "Node-Selectors", p.Spec.NodeSelector)
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// describeContainers is kubectl's Containers section. space indents the
// section's title ("  " inside a pod template, where each container's name
// gets one more space, as kubectl has it).
func describeContainers(w *prefixWriter, space, label string, containers []api.Container, statuses []api.ContainerStatus) {
	byName := map[string]*api.ContainerStatus{}
	for i := range statuses {
		byName[statuses[i].Name] = &statuses[i]
	}
	if len(containers) == 0 {
		w.write(0, "%s%s: <none>\n", space, label)
	} else {
		w.write(0, "%s%s:\n", space, label)
	}
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, c := range containers {
		st := byName[c.Name]
		w.write(1, "%s%s:\n", nameIndent, c.Name)
		if st != nil {
			w.write(2, "Container ID:\t%s\n", st.ContainerID)
		}
		w.write(2, "Image:\t%s\n", c.Image)
		if st != nil {
			w.write(2, "Image ID:\t%s\n", st.ImageID)
		}
		ports, hostPorts := containerPorts(c.Ports)
		if len(c.Ports) > 1 {
			w.write(2, "Ports:\t%s\n", ports)
			w.write(2, "Host Ports:\t%s\n", hostPorts)
		} else {
			w.write(2, "Port:\t%s\n", orNone(ports))
			w.write(2, "Host Port:\t%s\n", orNone(hostPorts))
		}
		if len(c.Command) > 0 {
			w.write(2, "Command:\n")
			for _, s := range c.Command {
				for _, line := range strings.Split(s, "\n") {
					w.write(3, "%s\n", line)
				}
			}
		}
		if len(c.Args) > 0 {
			w.write(2, "Args:\n")
			for _, s := range c.Args {
				for _, line := range strings.Split(s, "\n") {
					w.write(3, "%s\n", line)
				}
			}
		}
		if st != nil {
			describeContainerState(w, "State", st.State)
			if st.LastTerminationState.Terminated != nil {
				describeContainerState(w, "Last State", st.LastTerminationState)
			}
			w.write(2, "Ready:\t%s\n", trueFalse(st.Ready))
			w.write(2, "Restart Count:\t%d\n", st.RestartCount)
		}
		writeResources(w, "Limits", c.Resources.Limits)
		writeResources(w, "Requests", c.Resources.Requests)
		if len(c.Env) == 0 {
			w.write(2, "Environment:\t<none>\n")
		} else {
			w.write(2, "Environment:\n")
			for _, e := range c.Env {
				for i, line := range strings.Split(e.Value, "\n") {
					if i == 0 {
						w.write(3, "%s:\t%s\n", e.Name, line)
					} else {
						w.write(3, "\t%s\n", line)
					}
				}
			}
		}
		if len(c.VolumeMounts) == 0 {
			w.write(2, "Mounts:\t<none>\n")
		} else {
			w.write(2, "Mounts:\n")
			mounts := append([]api.VolumeMount(nil), c.VolumeMounts...)
			sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].MountPath < mounts[j].MountPath })
			for _, m := range mounts {
				mode := "rw"
				if m.ReadOnly {
					mode = "ro"
				}
				w.write(3, "%s from %s (%s)\n", m.MountPath, m.Name, mode)
			}
		}
	}
}

// containerPorts renders kubectl's Port(s) and Host Port(s): 80/TCP, …
// (the protocol defaults to TCP, as Kubernetes defaults it).
func containerPorts(ports []api.ContainerPort) (string, string) {
	var cp, hp []string
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = api.ProtocolTCP
		}
		port := fmt.Sprintf("%d/%s", p.ContainerPort, proto)
		if p.Name != "" {
			port += " (" + p.Name + ")"
		}
		cp = append(cp, port)
		hp = append(hp, fmt.Sprintf("%d/%s", p.HostPort, proto))
	}
	return strings.Join(cp, ", "), strings.Join(hp, ", ")
}

func describeContainerState(w *prefixWriter, name string, s api.ContainerState) {
	switch {
	case s.Running != nil:
		w.write(2, "%s:\tRunning\n", name)
		w.write(3, "Started:\t%s\n", rfc1123(s.Running.StartedAt))
	case s.Waiting != nil:
		w.write(2, "%s:\tWaiting\n", name)
		if s.Waiting.Reason != "" {
			w.write(3, "Reason:\t%s\n", s.Waiting.Reason)
		}
	case s.Terminated != nil:
		t := s.Terminated
		w.write(2, "%s:\tTerminated\n", name)
		if t.Reason != "" {
			w.write(3, "Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			w.write(3, "Message:\t%s\n", t.Message)
		}
		w.write(3, "Exit Code:\t%d\n", t.ExitCode)
		if t.Signal > 0 {
			w.write(3, "Signal:\t%d\n", t.Signal)
		}
		w.write(3, "Started:\t%s\n", rfc1123(t.StartedAt))
		w.write(3, "Finished:\t%s\n", rfc1123(t.FinishedAt))
	default:
		w.write(2, "%s:\tWaiting\n", name)
	}
}

func trueFalse(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// sortedResources lists a resource list's names: cpu, memory, then the rest
// in order, as kubectl's SortedResourceNames does.
func sortedResources(l api.ResourceList) []api.ResourceName {
	names := make([]api.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	rank := func(n api.ResourceName) int {
		switch n {
		case api.ResourceCPU:
			return 0
		case api.ResourceMemory:
			return 1
		}
		return 2
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

func writeResources(w *prefixWriter, title string, l api.ResourceList) {
	if len(l) == 0 {
		return
	}
	w.write(2, "%s:\n", title)
	for _, n := range sortedResources(l) {
		q := l[n]
		w.write(3, "%s:\t%s\n", n, q.String())
	}
}

// describeVolumes is kubectl's Volumes section; space as for
// describeContainers.
func describeVolumes(w *prefixWriter, space string, volumes []api.Volume) {
	if len(volumes) == 0 {
		w.write(0, "%sVolumes:\t<none>\n", space)
		return
	}
	w.write(0, "%sVolumes:\n", space)
	nameIndent := ""
	if space != "" {
		nameIndent = " "
	}
	for _, v := range volumes {
		w.write(1, "%s%s:\n", nameIndent, v.Name)
		switch {
		case v.HostPath != nil:
			w.write(2, "Type:\tHostPath (bare host directory volume)\n")
			w.write(2, "Path:\t%s\n", v.HostPath.Path)
			w.write(2, "HostPathType:\t%s\n", api.HostPathTypeOf(v.HostPath))
		case v.EmptyDir != nil:
			limit := "<unset>"
			if q := v.EmptyDir.SizeLimit; q != nil && q.Sign() > 0 {
				limit = q.String()
			}
			w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
			w.write(2, "Medium:\t%s\n", v.EmptyDir.Medium)
			w.write(2, "SizeLimit:\t%s\n", limit)
		default:
			w.write(2, "<unknown>\n")
		}
	}
}

// writeLabels prints a map as kubectl's multi-line Labels: sorted k=v, one
// per line, aligned; <none> when empty.
func writeLabels(w *prefixWriter, title string, m map[string]string) {
	writeMap(w, title, m, "%s=%s\n")
}

// writeAnnotations prints annotations as kubectl does ("key: value").
func writeAnnotations(w *prefixWriter, title string, m map[string]string) {
	writeMap(w, title, m, "%s: %s\n")
}

// maxAnnotationLen is where kubectl cuts a long annotation value.
const maxAnnotationLen = 140

func writeMap(w *prefixWriter, title string, m map[string]string, format string) {
	w.write(0, "%s:\t", title)
	if len(m) == 0 {
		w.write(0, "<none>\n")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			w.write(0, "\t")
		}
		v := m[k]
		if format == "%s: %s\n" && (len(v) > maxAnnotationLen || strings.Contains(v, "\n")) {
			v = strings.ReplaceAll(v, "\n", " ")
			if len(v) > maxAnnotationLen {
				v = v[:maxAnnotationLen-3] + "..."
			}
		}
		w.write(0, format, k, v)
	}
}

// describeEvents prints kubectl's Events table, oldest first; an event seen
// several times shows "5s (x3 over 2m)".
func describeEvents(w *prefixWriter, events []api.Event, now time.Time) {
	if len(events) == 0 {
		w.write(0, "Events:\t<none>\n")
		return
	}
	w.flush()
	events = append([]api.Event(nil), events...)
	last := func(e *api.Event) time.Time {
		if !e.LastTimestamp.IsZero() {
			return e.LastTimestamp.Time
		}
		if !e.FirstTimestamp.IsZero() {
			return e.FirstTimestamp.Time
		}
		return e.CreationTimestamp.Time
	}
	// Timestamps have second precision: within a second, the event written
	// to the log first (lower resourceVersion, a Raft index) comes first.
	rv := func(e *api.Event) uint64 { n, _ := strconv.ParseUint(e.ResourceVersion, 10, 64); return n }
	sort.SliceStable(events, func(i, j int) bool {
		if ti, tj := last(&events[i]), last(&events[j]); !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return rv(&events[i]) < rv(&events[j])
	})
	w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	w.write(1, "----\t------\t----\t----\t-------\n")
	for i := range events {
		e := &events[i]
		first := e.FirstTimestamp
		if first.IsZero() {
			first = api.Time{Time: last(e)}
		}
		interval := age(first, now)
		if e.Count > 1 {
			interval = fmt.Sprintf("%s (x%d over %s)", age(api.Time{Time: last(e)}, now), e.Count, age(first, now))
		}
		w.write(1, "%v\t%v\t%s\t%v\t%v\n", e.Type, e.Reason, interval, e.Source.Component, strings.TrimSpace(e.Message))
	}
}

// describeNode renders a node the way `kubectl describe node` does; pods are
// the node's non-terminated pods, role its place in Raft.
func describeNode(n *api.Node, role string, pods []api.Pod, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", n.Name)
	w.write(0, "Roles:\t%s\n", orNone(role))
	writeLabels(w, "Labels", n.Labels)
	writeAnnotations(w, "Annotations", n.Annotations)
	w.write(0, "CreationTimestamp:\t%s\n", rfc1123(n.CreationTimestamp))
	w.write(0, "Taints:\t<none>\n")
	w.write(0, "Unschedulable:\t%v\n", n.Spec.Unschedulable)
	if len(n.Status.Conditions) > 0 {
		w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range n.Status.Conditions {
			w.write(1, "%v \t%v \t%s \t%s \t%v \t%v\n", c.Type, c.Status,
				rfc1123(c.LastHeartbeatTime), rfc1123(c.LastTransitionTime), c.Reason, c.Message)
		}
	}
	w.write(0, "Addresses:\n")
	for _, a := range n.Status.Addresses {
		w.write(1, "%s:\t%s\n", a.Type, a.Address)
	}
	for _, rl := range []struct {
		title string
		list  api.ResourceList
	}{{"Capacity", n.Status.Capacity}, {"Allocatable", n.Status.Allocatable}} {
		if len(rl.list) == 0 {
			continue
		}
		w.write(0, "%s:\n", rl.title)
		for _, name := range sortedResources(rl.list) {
			q := rl.list[name]
			w.write(1, "%s:\t%s\n", name, q.String())
		}
	}
	info := n.Status.NodeInfo
	w.write(0, "System Info:\n")
	w.write(1, "Kernel Version:\t%s\n", info.KernelVersion)
	w.write(1, "OS Image:\t%s\n", info.OSImage)
	w.write(1, "Operating System:\t%s\n", info.OperatingSystem)
	w.write(1, "Architecture:\t%s\n", info.Architecture)
	w.write(1, "Kubelet Version:\t%s\n", info.KubeletVersion)
	if n.Spec.PodCIDR != "" {
		w.write(0, "PodCIDR:\t%s\n", n.Spec.PodCIDR)
		w.write(0, "PodCIDRs:\t%s\n", n.Spec.PodCIDR)
	}

	allocatable := n.Status.Allocatable
	if len(allocatable) == 0 {
		allocatable = n.Status.Capacity
	}
	w.write(0, "Non-terminated Pods:\t(%d in total)\n", len(pods))
	w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
	w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
	var totalReq, totalLim api.ResourceList
	for i := range pods {
		p := &pods[i]
		req, lim := podRequestsAndLimits(p)
		totalReq, totalLim = addResources(totalReq, req), addResources(totalLim, lim)
		w.write(1, "%s\t%s\t\t%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name,
			fraction(req, allocatable, api.ResourceCPU), fraction(lim, allocatable, api.ResourceCPU),
			fraction(req, allocatable, api.ResourceMemory), fraction(lim, allocatable, api.ResourceMemory),
			age(p.CreationTimestamp, now))
	}
	// The cluster's own account of what is allocated on the node is the
	// authority for requests; the pods listed are what it is made of.
	if a := api.NodeAllocated(n); len(a) > 0 {
		totalReq = a
	}
	w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
	w.write(1, "Resource\tRequests\tLimits\n")
	w.write(1, "--------\t--------\t------\n")
	for _, name := range []api.ResourceName{api.ResourceCPU, api.ResourceMemory} {
		w.write(1, "%s\t%s\t%s\n", name, fraction(totalReq, allocatable, name), fraction(totalLim, allocatable, name))
	}
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// fraction prints "850m (42%)": an amount of a resource and its share of
// the node's allocatable amount, truncated as kubectl does.
func fraction(l, allocatable api.ResourceList, name api.ResourceName) string {
	q, ok := l[name]
	if !ok {
		q = *resource.NewQuantity(0, resource.DecimalSI)
	}
	pct := int64(0)
	if a, ok := allocatable[name]; ok {
		if name == api.ResourceCPU {
			if a.MilliValue() > 0 {
				pct = int64(float64(q.MilliValue()) / float64(a.MilliValue()) * 100)
			}
		} else if a.Value() > 0 {
			pct = int64(float64(q.Value()) / float64(a.Value()) * 100)
		}
	}
	return fmt.Sprintf("%s (%d%%)", q.String(), pct)
}

// podRequestsAndLimits is a pod's effective cpu and memory requests and
// limits, as Kubernetes computes them (resourcehelper.PodRequestsAndLimits):
// per resource, the larger of the sum over app containers and the largest
// init container; a limit stands in for a missing request.
func podRequestsAndLimits(p *api.Pod) (api.ResourceList, api.ResourceList) {
	requests := func(c *api.Container) api.ResourceList {
		out := api.ResourceList{}
		for _, n := range []api.ResourceName{api.ResourceCPU, api.ResourceMemory} {
			if q, ok := c.Resources.Requests[n]; ok {
				out[n] = q
			} else if q, ok := c.Resources.Limits[n]; ok {
				out[n] = q
			}
		}
		return out
	}
	limits := func(c *api.Container) api.ResourceList {
		out := api.ResourceList{}
		for _, n := range []api.ResourceName{api.ResourceCPU, api.ResourceMemory} {
			if q, ok := c.Resources.Limits[n]; ok {
				out[n] = q
			}
		}
		return out
	}
	effective := func(pick func(*api.Container) api.ResourceList) api.ResourceList {
		var sum api.ResourceList
		for i := range p.Spec.Containers {
			sum = addResources(sum, pick(&p.Spec.Containers[i]))
		}
		for i := range p.Spec.InitContainers {
			for n, q := range pick(&p.Spec.InitContainers[i]) {
				if s, ok := sum[n]; !ok || q.Cmp(s) > 0 {
					if sum == nil {
						sum = api.ResourceList{}
					}
					sum[n] = q.DeepCopy()
				}
			}
		}
		return sum
	}
	return effective(requests), effective(limits)
}

// addResources returns a + b without changing either.
func addResources(a, b api.ResourceList) api.ResourceList {
	out := api.ResourceList{}
	for n, q := range a {
		out[n] = q.DeepCopy()
	}
	for n, q := range b {
		s, ok := out[n]
		if !ok {
			out[n] = q.DeepCopy()
			continue
		}
		s.Add(q)
		out[n] = s
	}
	return out
}
