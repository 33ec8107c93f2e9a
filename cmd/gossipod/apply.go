package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"

	"k8s.io/apimachinery/pkg/api/equality"
)

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:  "apply",
		Usage: "create objects from manifests, or update them to match",
		Description: "Every manifest is read and decoded first; a manifest that does not decode\n" +
			"changes nothing. Then each object is created, or updated where it differs\n" +
			"(for a pod: container images, labels, annotations, as Kubernetes allows;\n" +
			"for a Deployment or a ReplicaSet: labels, annotations and spec, but not its\n" +
			"selector).\n" +
			"A Deployment manifest without spec.replicas keeps the live replica count,\n" +
			"so applying it again does not undo a `scale`.\n\n" +
			"gossipod apply -f examples/pod.yaml\n" +
			"gossipod apply -f examples/deployment.yaml\n" +
			"gossipod apply -f manifests/ -n staging\n" +
			"cat pod.yaml | gossipod apply -f -",
		Flags: []cli.Flag{
			filenameFlag("apply"),
			recursiveFlag(),
			namespaceFlag(),
			outputFlag("name", "json", "yaml"),
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			format, err := checkOutput(c, "name", "json", "yaml")
			if err != nil {
				return err
			}
			objs, err := readManifests(c.StringSlice("filename"), c.Bool("recursive"), c.App.Reader)
			if err != nil {
				return err
			}
			if len(objs) == 0 {
				return fmt.Errorf("no objects passed to apply")
			}
			if err := setNamespaces(objs, namespace(c), c.IsSet("namespace")); err != nil {
				return err
			}
			cl, err := newClient(c)
			if err != nil {
				return err
			}
			failed := 0
			var results []any
			for _, o := range objs {
				ctx, cancel := requestContext(c)
				result, stored, err := applyObject(ctx, cl, o)
				cancel()
				if err != nil {
					failed++
					fmt.Fprintln(c.App.ErrWriter, errorMessage(err))
					continue
				}
				switch format {
				case "":
					fmt.Fprintf(c.App.Writer, "%s %s\n", objectRef(o.obj), result)
				case "name":
					fmt.Fprintln(c.App.Writer, objectRef(o.obj))
				default:
					results = append(results, stored)
				}
			}
			if err := printResults(c, format, results); err != nil {
				return err
			}
			if failed > 0 {
				return reportedError{failed}
			}
			return nil
		},
	}
}

// printResults prints what -o json|yaml asks for: the one object, or a List.
func printResults(c *cli.Context, format string, results []any) error {
	switch {
	case format != "json" && format != "yaml" || len(results) == 0:
		return nil
	case len(results) == 1:
		return printObject(c.App.Writer, format, results[0])
	}
	return printObject(c.App.Writer, format, map[string]any{
		"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}, "items": results,
	})
}

// applyResult is what apply did to an object, in kubectl's words.
type applyResult string

// The outcomes of applying an object.
const (
	applyCreated    applyResult = "created"
	applyConfigured applyResult = "configured"
	applyUnchanged  applyResult = "unchanged"
)

// applyObject applies one object of the manifests; errors are ready to
// print, naming the file as kubectl does.
func applyObject(ctx context.Context, cl *client.Client, o manifestObject) (applyResult, any, error) {
	switch obj := o.obj.(type) {
	case *api.Pod:
		return applyPod(ctx, cl, obj, o.source)
	case *api.Deployment:
		return applyDeployment(ctx, cl, obj, o.source)
	case *api.ReplicaSet:
		return applyReplicaSet(ctx, cl, obj, o.source)
	case *api.Namespace:
		return applyNamespace(ctx, cl, obj, o.source)
	case *api.Service:
		return applyService(ctx, cl, obj, o.source)
	case *api.RoleBinding:
		return applyBinding(ctx, cl, obj, o.source, roleBindingParts)
	case *api.ClusterRoleBinding:
		return applyBinding(ctx, cl, obj, o.source, clusterRoleBindingParts)
	default:
		apiVersion, kind := o.obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
		return "", nil, fmt.Errorf("unable to apply %s %s %q from %q: this kind is not supported yet", apiVersion, kind, o.obj.GetName(), o.source)
	}
}

// applyNamespace creates the namespace when it does not exist. Of an
// existing one, what a user may change is its labels and annotations (a
// Pod Security level, say): the manifest's are set on the live ones, with
// the live resourceVersion as the condition. (kubectl would also remove
// those an earlier apply set and the manifest no longer has; gossipod's
// apply keeps no record of them, so it leaves them.)
func applyNamespace(ctx context.Context, cl *client.Client, desired *api.Namespace, source string) (applyResult, *api.Namespace, error) {
	var live api.Namespace
	err := cl.Do(ctx, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(desired.Name), nil, &live)
	if err == nil {
		update := live.DeepCopy()
		changed := false
		for _, m := range []struct{ want, have *map[string]string }{
			{&desired.Labels, &update.Labels}, {&desired.Annotations, &update.Annotations},
		} {
			for k, v := range *m.want {
				if cur, ok := (*m.have)[k]; !ok || cur != v {
					if *m.have == nil {
						*m.have = map[string]string{}
					}
					(*m.have)[k] = v
					changed = true
				}
			}
		}
		if !changed {
			return applyUnchanged, &live, nil
		}
		var updated api.Namespace
		if err := cl.Do(ctx, http.MethodPut, "/api/v1/namespaces/"+url.PathEscape(desired.Name), update, &updated); err != nil {
			return "", nil, withContext(err, fmt.Sprintf("error when applying %q: ", source))
		}
		return applyConfigured, &updated, nil
	}
	if !isNotFound(err) {
		return "", nil, withContext(err, fmt.Sprintf("error when retrieving current configuration of namespace %q from server for: %q: ", desired.Name, source))
	}
	create := *desired
	create.UID, create.ResourceVersion, create.CreationTimestamp = "", "", api.Time{}
	create.Status = api.NamespaceStatus{}
	var created api.Namespace
	if err := cl.Do(ctx, http.MethodPost, "/api/v1/namespaces", &create, &created); err != nil {
		return "", nil, withContext(err, fmt.Sprintf("error when creating %q: ", source))
	}
	return applyCreated, &created, nil
}

// applyAttempts bounds the retries of an apply that raced with another
// writer (a create that found the pod created, an update on a stale
// resourceVersion).
const applyAttempts = 5

// applyPod creates the pod, or updates it where it differs from the
// manifest, with the resourceVersion it was compared with.
func applyPod(ctx context.Context, cl *client.Client, desired *api.Pod, source string) (applyResult, *api.Pod, error) {
	for attempt := 1; ; attempt++ {
		live, err := cl.Pod(ctx, desired.Namespace, desired.Name)
		if isNotFound(err) {
			created, err := cl.CreatePod(ctx, podToCreate(desired))
			if err == nil {
				return applyCreated, created, nil
			}
			if hasReason(err, api.StatusReasonAlreadyExists) && attempt < applyAttempts {
				continue
			}
			return "", nil, withContext(err, fmt.Sprintf("error when creating %q: ", source))
		}
		if err != nil {
			return "", nil, withContext(err, fmt.Sprintf("error when retrieving current configuration of pod %q from server for: %q: ", desired.Name, source))
		}
		update, changed := podUpdate(desired, live)
		if !changed {
			return applyUnchanged, live, nil
		}
		updated, err := cl.UpdatePod(ctx, update)
		if err == nil {
			return applyConfigured, updated, nil
		}
		if (hasReason(err, api.StatusReasonConflict) || isNotFound(err)) && attempt < applyAttempts {
			continue
		}
		return "", nil, withContext(err, fmt.Sprintf("error when updating %q: ", source))
	}
}

// withContext puts what was being done in front of a server's message.
func withContext(err error, what string) error {
	se, ok := statusError(err).(serverError)
	if !ok {
		return fmt.Errorf("%s%w", what, err)
	}
	se.context = what
	return se
}

// podToCreate is the manifest's pod without what the cluster sets.
func podToCreate(desired *api.Pod) *api.Pod {
	p := desired.DeepCopy()
	clearServerFields(p)
	p.UID, p.ResourceVersion = "", ""
	return p
}

// clearServerFields drops what only the cluster writes, in case the
// manifest is the output of `get -o yaml`: kubectl would send it and the
// server ignore it; gossipod's strict server need not see it at all.
func clearServerFields(p *api.Pod) {
	p.Status = api.PodStatus{}
	p.CreationTimestamp = api.Time{}
	p.DeletionTimestamp = nil
	p.DeletionGracePeriodSeconds = nil
	p.Generation = 0
}

// podUpdate decides apply's update of a live pod: the manifest's labels,
// annotations and spec, defaulted as the server defaults them, are compared
// with the live pod's; when they differ, the update is the manifest with the
// live pod's uid and resourceVersion (so a concurrent change is a 409, not
// lost), and the server validates that only what Kubernetes allows changes.
// A manifest without spec.nodeName keeps the live pod's binding, and one
// without spec.imagePullSecrets the live pod's (its ServiceAccount's, given
// at creation), as kubectl apply's merge keeps both.
func podUpdate(desired, live *api.Pod) (*api.Pod, bool) {
	desired = desired.DeepCopy()
	if len(desired.Spec.ImagePullSecrets) == 0 {
		desired.Spec.ImagePullSecrets = live.Spec.ImagePullSecrets
	}
	want := desired.DeepCopy()
	api.SetPodDefaults(want)
	if want.Spec.NodeName == "" {
		want.Spec.NodeName = live.Spec.NodeName
	}
	// The token volume ServiceAccount admission added is the server's, as
	// kubectl's three-way merge keeps it: replayed on the manifest.
	tokenVolume := api.ServiceAccountTokenVolumeName(&live.Spec)
	if tokenVolume != "" {
		api.MountServiceAccountToken(&want.Spec, tokenVolume)
	}
	have := live.DeepCopy()
	api.SetPodDefaults(have)
	if maps.Equal(want.Labels, have.Labels) && maps.Equal(want.Annotations, have.Annotations) &&
		equality.Semantic.DeepEqual(want.Spec, have.Spec) {
		return nil, false
	}
	update := desired.DeepCopy()
	if tokenVolume != "" {
		api.MountServiceAccountToken(&update.Spec, tokenVolume)
	}
	clearServerFields(update)
	update.UID = live.UID
	update.ResourceVersion = live.ResourceVersion
	return update, true
}
