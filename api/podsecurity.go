package api

import (
	"fmt"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// The Pod Security Standards' namespace labels, as Kubernetes' PodSecurity
// admission reads them: a level (privileged, baseline or restricted) and
// the version of the standard ("latest" or "v1.N") for each mode. enforce
// refuses a pod that violates its level; warn admits it with an API
// warning; audit is accepted and, gossipod having no audit log, changes
// nothing.
const (
	PodSecurityEnforceLabel        = psapi.EnforceLevelLabel
	PodSecurityEnforceVersionLabel = psapi.EnforceVersionLabel
	PodSecurityWarnLabel           = psapi.WarnLevelLabel
	PodSecurityWarnVersionLabel    = psapi.WarnVersionLabel
	PodSecurityAuditLabel          = psapi.AuditLevelLabel
	PodSecurityAuditVersionLabel   = psapi.AuditVersionLabel
)

// The Pod Security Standards' levels, from the least to the most
// restrictive.
const (
	PodSecurityPrivileged = string(psapi.LevelPrivileged)
	PodSecurityBaseline   = string(psapi.LevelBaseline)
	PodSecurityRestricted = string(psapi.LevelRestricted)
)

// DefaultPodSecurityLevel is --pod-security-default's default, the level
// enforced in a namespace without an enforce label (and what the functions
// here take an empty default level for). kube-apiserver's built-in
// default is privileged; gossipod's is baseline, so that a pod cannot take
// its node (privileged, host namespaces, host paths) unless its namespace
// says it may.
const DefaultPodSecurityLevel = PodSecurityBaseline

// podSecurityEvaluator holds the checks of every version of the
// standards. It is built once and only read: the checks are pure
// functions of the pod, so every replica of the state machine reaches the
// same verdict.
var podSecurityEvaluator = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(fmt.Sprintf("pod security checks: %v", err))
	}
	return e
}()

// podSecurityLatest is the newest version of the standards this binary's
// checks know, what "latest" means here (the policy registry's maxVersion).
var podSecurityLatest = func() psapi.Version {
	latest := psapi.MajorMinorVersion(1, 0)
	for _, c := range policy.DefaultChecks() {
		if v := c.Versions[len(c.Versions)-1].MinimumVersion; latest.Older(v) {
			latest = v
		}
	}
	return latest
}()

// PodSecurityLatestVersion is the version of the Pod Security Standards
// that "latest" means in this binary ("v1.37"). The leader records it
// beside the cluster's default level, and the state machine evaluates
// "latest" (and any newer version a label names) at the recorded one: a
// replica running a newer gossipod, or one replaying its log after an
// upgrade, then holds pods to the same checks as the others, until a
// leader records the newer version in the log.
func PodSecurityLatestVersion() string {
	return podSecurityLatest.String()
}

// ValidatePodSecurityVersion checks a recorded "latest" version: v1.N.
func ValidatePodSecurityVersion(version string) error {
	if v, err := psapi.ParseVersion(version); err != nil || v.Latest() {
		return fmt.Errorf(`pod security version %q: must be "v1.x"`, version)
	}
	return nil
}

// evaluatePodSecurity runs the checks of lv on a pod, "latest" and any
// newer version standing for latest when it is a version (see
// PodSecurityLatestVersion); with latest "", for this binary's newest.
func evaluatePodSecurity(lv psapi.LevelVersion, latest string, meta *ObjectMeta, spec *PodSpec) policy.AggregateCheckResult {
	if pinned, err := psapi.ParseVersion(latest); latest != "" && err == nil && !pinned.Latest() &&
		(lv.Version.Latest() || pinned.Older(lv.Version)) {
		lv.Version = pinned
	}
	return policy.AggregateCheckResults(podSecurityEvaluator.EvaluatePod(lv, meta, spec))
}

// ValidatePodSecurityLevel checks a level given as a cluster default
// (--pod-security-default), in the words of the namespace label's check.
func ValidatePodSecurityLevel(level string) error {
	if _, err := psapi.ParseLevel(level); err != nil {
		return fmt.Errorf("pod security level %q: %w", level, err)
	}
	return nil
}

// podSecurityPolicy resolves a namespace's labels to the policy its pods
// are held to, as PodSecurity admission does with its configured defaults:
// defaultLevel (the cluster's, see DefaultPodSecurityLevel) for enforce,
// privileged for warn and audit, all at the latest version. A label that
// does not parse yields an error and restricted (fail closed) for enforce,
// privileged for warn and audit.
func podSecurityPolicy(nsLabels map[string]string, defaultLevel string) (psapi.Policy, field.ErrorList) {
	level, err := psapi.ParseLevel(defaultLevel)
	if defaultLevel == "" || err != nil {
		level = psapi.Level(DefaultPodSecurityLevel)
	}
	latest := psapi.LatestVersion()
	defaults := psapi.Policy{
		Enforce: psapi.LevelVersion{Level: level, Version: latest},
		Warn:    psapi.LevelVersion{Level: psapi.LevelPrivileged, Version: latest},
		Audit:   psapi.LevelVersion{Level: psapi.LevelPrivileged, Version: latest},
	}
	return psapi.PolicyToEvaluate(nsLabels, defaults)
}

// AdmitPodSecurity is Kubernetes' PodSecurity admission for a new pod in a
// namespace labelled nsLabels, defaultLevel being the cluster's level for
// a namespace without an enforce label and latest the version "latest"
// stands for (see PodSecurityLatestVersion; "" for this binary's). A pod that violates the enforce
// level is refused with a 403 in kube-apiserver's words:
//
//	pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged (container "x" must not set securityContext.privileged=true)
//
// An admitted pod that violates the warn level gets the warning the API
// returns in a Warning header: `would violate PodSecurity
// "restricted:latest": ...`. It reads nothing but its arguments, so the
// state machine runs it on every replica and all agree.
func AdmitPodSecurity(p *Pod, nsLabels map[string]string, defaultLevel, latest string) (warnings []string, err error) {
	pol, _ := podSecurityPolicy(nsLabels, defaultLevel)
	enforce := evaluatePodSecurity(pol.Enforce, latest, &p.ObjectMeta, &p.Spec)
	if !enforce.Allowed {
		return nil, NewForbidden("", "pods", p.Name,
			fmt.Sprintf("violates PodSecurity %q: %s", pol.Enforce.String(), enforce.ForbiddenDetail()))
	}
	return podSecurityWarnings(pol, latest, &p.ObjectMeta, &p.Spec), nil
}

// PodTemplateSecurityWarnings is PodSecurity admission for a workload (a
// Deployment or ReplicaSet) in a namespace labelled nsLabels: as in
// Kubernetes, the workload itself is never refused, only warned about
// when its pod template violates the namespace's warn level; its pods are
// refused when they are created.
func PodTemplateSecurityWarnings(t *PodTemplateSpec, nsLabels map[string]string, defaultLevel, latest string) []string {
	pol, _ := podSecurityPolicy(nsLabels, defaultLevel)
	return podSecurityWarnings(pol, latest, &t.ObjectMeta, &t.Spec)
}

// podSecurityWarnings evaluates the warn level of pol.
func podSecurityWarnings(pol psapi.Policy, latest string, meta *ObjectMeta, spec *PodSpec) []string {
	if pol.Warn.Level == psapi.LevelPrivileged {
		return nil
	}
	warn := evaluatePodSecurity(pol.Warn, latest, meta, spec)
	if warn.Allowed {
		return nil
	}
	return []string{fmt.Sprintf("would violate PodSecurity %q: %s", pol.Warn.String(), warn.ForbiddenDetail())}
}

// validatePodSecurityLabels checks a namespace's PodSecurity labels, as
// PodSecurity admission does when a namespace is created:
//
//	metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted
func validatePodSecurityLabels(labels map[string]string) field.ErrorList {
	_, errs := podSecurityPolicy(labels, DefaultPodSecurityLevel)
	return errs
}

// validatePodSecurityLabelsUpdate checks them on an update: as in
// Kubernetes, invalid labels are refused only when the update changes
// what is wrong with them, so that a namespace stored with a bad label can
// still be relabelled otherwise.
func validatePodSecurityLabelsUpdate(oldLabels, newLabels map[string]string) field.ErrorList {
	newErrs := validatePodSecurityLabels(newLabels)
	if len(newErrs) > 0 && reflect.DeepEqual(newErrs, validatePodSecurityLabels(oldLabels)) {
		return nil
	}
	return newErrs
}

// PodSecuritySignificantUpdate reports whether an update of old to p is
// one PodSecurity admission evaluates: as in Kubernetes, one that changes
// the number of containers or an image (what else a pod update may change
// cannot change the verdict). Other updates are admitted whatever the
// namespace's level, so that a pod admitted before its namespace was
// relabelled can still be relabelled itself.
func PodSecuritySignificantUpdate(old, p *Pod) bool {
	if len(p.Spec.Containers) != len(old.Spec.Containers) || len(p.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return true
	}
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Image != old.Spec.Containers[i].Image {
			return true
		}
	}
	for i := range p.Spec.InitContainers {
		if p.Spec.InitContainers[i].Image != old.Spec.InitContainers[i].Image {
			return true
		}
	}
	return false
}

// maxPodsToCheckOnRelabel bounds the pods a namespace relabel evaluates,
// PodSecurity admission's default (namespaceMaxPodsToCheck).
const maxPodsToCheckOnRelabel = 3000

// NamespacePodSecurityWarnings is what PodSecurity admission says when a
// namespace's labels change from oldLabels to newLabels: if the enforce
// level becomes stricter, which of the namespace's pods (running ones are
// left alone) would be refused now, in kube-apiserver's words:
//
//	existing pods in namespace "shop" violate the new PodSecurity enforce level "restricted:latest"
//	web-1 (and 2 other pods): hostPort, allowPrivilegeEscalation != false, ...
//
// Pods of distinct controllers are checked first, and at most 3,000.
func NamespacePodSecurityWarnings(namespace string, oldLabels, newLabels map[string]string, defaultLevel, latest string, pods []*Pod) []string {
	oldPol, _ := podSecurityPolicy(oldLabels, defaultLevel)
	newPol, _ := podSecurityPolicy(newLabels, defaultLevel)
	if newPol.Enforce == oldPol.Enforce || newPol.Enforce.Level == psapi.LevelPrivileged ||
		newPol.Enforce.Version == oldPol.Enforce.Version && psapi.CompareLevels(newPol.Enforce.Level, oldPol.Enforce.Level) < 1 {
		return nil
	}
	pods = prioritizePodsByController(pods)
	total := len(pods)
	if len(pods) > maxPodsToCheckOnRelabel {
		pods = pods[:maxPodsToCheckOnRelabel]
	}
	type podCount struct {
		name  string
		count int
	}
	counts := map[string]*podCount{}
	var reasons []string
	for _, p := range pods {
		r := evaluatePodSecurity(newPol.Enforce, latest, &p.ObjectMeta, &p.Spec)
		if r.Allowed {
			continue
		}
		reason := r.ForbiddenReason()
		c, seen := counts[reason]
		if !seen {
			c = &podCount{name: p.Name}
			counts[reason] = c
			reasons = append(reasons, reason)
		} else if p.Name < c.name {
			c.name = p.Name
		}
		c.count++
	}
	var warnings []string
	if len(pods) < total {
		warnings = append(warnings, fmt.Sprintf("new PodSecurity enforce level only checked against the first %d of %d existing pods", len(pods), total))
	}
	if len(reasons) == 0 {
		return warnings
	}
	warnings = append(warnings, fmt.Sprintf("existing pods in namespace %q violate the new PodSecurity enforce level %q", namespace, newPol.Enforce.String()))
	for i, reason := range reasons {
		switch c := counts[reason]; c.count {
		case 1:
			reasons[i] = fmt.Sprintf("%s: %s", c.name, reason)
		case 2:
			reasons[i] = fmt.Sprintf("%s (and 1 other pod): %s", c.name, reason)
		default:
			reasons[i] = fmt.Sprintf("%s (and %d other pods): %s", c.name, c.count-1, reason)
		}
	}
	slices.Sort(reasons)
	return append(warnings, reasons...)
}

// prioritizePodsByController orders pods as PodSecurity admission does
// before a bounded check: the first pod of each controller (and every pod
// without one) first, the other replicas after.
func prioritizePodsByController(pods []*Pod) []*Pod {
	out := make([]*Pod, 0, len(pods))
	var replicas []*Pod
	seen := map[types.UID]bool{}
	for _, p := range pods {
		ref := ControllerOf(&p.ObjectMeta)
		switch {
		case ref == nil:
			out = append(out, p)
		case seen[ref.UID]:
			replicas = append(replicas, p)
		default:
			seen[ref.UID] = true
			out = append(out, p)
		}
	}
	return append(out, replicas...)
}
