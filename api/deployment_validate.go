package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateDeployment checks a Deployment as the Kubernetes API server checks
// an apps/v1 Deployment it is asked to create, after defaulting (call
// SetDeploymentDefaults first). Deployments are validated before they enter
// the Raft log, so the controller never has to make sense of one it cannot
// act on: its template is a valid pod, its selector selects that pod, and
// its rolling update can make progress.
//
// It returns nil or a *Status, 422 Invalid, with one StatusCause per problem
// and every problem in its message, in Kubernetes' words:
//
//	Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: {"app":"db"}: `selector` does not match template `labels`
//
// The rules: metadata as for a pod (name a DNS-1123 subdomain, short
// enough to leave room for the pod names made from it); replicas,
// minReadySeconds, revisionHistoryLimit and progressDeadlineSeconds not
// negative, and progressDeadlineSeconds greater than minReadySeconds;
// selector set, valid and not empty, and matching the template's labels;
// the template's labels and annotations valid and its spec a valid pod spec
// (the pod's rules, reported under spec.template.spec) with restartPolicy
// Always, since a replica that exits must be restarted; the strategy
// Recreate without rollingUpdate, or RollingUpdate with maxSurge and
// maxUnavailable each a non-negative integer or percentage, maxUnavailable
// at most 100%, and not both 0. A template may set nodeName, as Kubernetes
// allows: every replica is then bound to that node.
//
// spec.replicas may not exceed DefaultMaxDeploymentReplicas; an API server
// configured with another bound calls ValidateDeploymentWithin.
func ValidateDeployment(d *Deployment) error {
	return ValidateDeploymentWithin(d, DefaultMaxDeploymentReplicas)
}

// ValidateDeploymentWithin is ValidateDeployment with spec.replicas bounded
// by maxReplicas (the agent's --max-deployment-replicas) instead of the
// default, reported with the other problems of the object.
func ValidateDeploymentWithin(d *Deployment, maxReplicas int32) error {
	if errs := validateDeployment(d, maxReplicas); len(errs) > 0 {
		return newInvalid("Deployment", d.Name, errs)
	}
	return nil
}

// DefaultMaxDeploymentReplicas bounds a Deployment's spec.replicas unless
// the agent is told otherwise. Every replica is a pod object in the
// replicated state of every agent (a few KB each), so one Deployment of
// 2,000,000 replicas was enough to exhaust an agent's memory.
const DefaultMaxDeploymentReplicas int32 = 10000

// MaxDeploymentReplicasCeiling is the most any agent may allow, and what the
// replicated state machine itself enforces: the FSM must decide the same on
// every agent, so it cannot read a per-agent flag, and a bound it holds
// fixed still keeps a write that bypasses an agent's API from growing the
// state without limit.
const MaxDeploymentReplicasCeiling int32 = 100000

// ValidateReplicas checks a replica count against maxReplicas, the check a
// scale request or the FSM makes without the rest of the object. kind names
// the object in the message as Kubernetes does ("Deployment",
// "Scale.autoscaling"):
//
//	Deployment "web" is invalid: spec.replicas: Invalid value: 2000000: must be less than or equal to 10000
func ValidateReplicas(kind, name string, replicas, maxReplicas int32) error {
	if errs := validateReplicas(replicas, maxReplicas, field.NewPath("spec", "replicas")); len(errs) > 0 {
		return newInvalid(kind, name, errs)
	}
	return nil
}

// validateReplicas is Kubernetes' ValidateNonnegativeField plus the upper
// bound, in apimachinery's words for one.
func validateReplicas(replicas, maxReplicas int32, fld *field.Path) field.ErrorList {
	errs := nonNegative(int64(replicas), fld)
	if replicas > maxReplicas {
		errs = append(errs, field.Invalid(fld, replicas, fmt.Sprintf("must be less than or equal to %d", maxReplicas)))
	}
	return errs
}

// ValidateDeploymentUpdate checks that newD is a valid Deployment (see
// ValidateDeployment) and a change apps/v1 allows to oldD: metadata.name,
// namespace and uid stay as they are, and so does spec.selector, since a
// new selector would orphan the pods the old one selected (apps/v1 made it
// immutable for that reason). Everything else may change: replicas is how
// one scales, a new template is how one rolls out.
func ValidateDeploymentUpdate(oldD, newD *Deployment) error {
	return ValidateDeploymentUpdateWithin(oldD, newD, DefaultMaxDeploymentReplicas)
}

// ValidateDeploymentUpdateWithin is ValidateDeploymentUpdate with
// spec.replicas bounded by maxReplicas, as ValidateDeploymentWithin.
func ValidateDeploymentUpdateWithin(oldD, newD *Deployment, maxReplicas int32) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newD.Name, oldD.Name, meta.Child("name"))...)
	errs = append(errs, immutable(newD.Namespace, oldD.Namespace, meta.Child("namespace"))...)
	if newD.UID != "" {
		errs = append(errs, immutable(newD.UID, oldD.UID, meta.Child("uid"))...)
	}
	errs = append(errs, validateDeployment(newD, maxReplicas)...)
	if !equality.Semantic.DeepEqual(oldD.Spec.Selector, newD.Spec.Selector) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), newD.Spec.Selector, "field is immutable"))
	}
	if len(errs) > 0 {
		return newInvalid("Deployment", newD.Name, errs)
	}
	return nil
}

// maxDeploymentNameLength leaves room in a DNS-1123 subdomain (253 bytes)
// for what the controller appends to make a pod name: "-", a TemplateHash
// of up to 10 characters, "-" and a 5-character suffix. Kubernetes has no
// such limit, but it truncates names it generates; gossipod names pods
// exactly, so a longer name would make a Deployment whose pods can never be
// created.
const maxDeploymentNameLength = 253 - 1 - 10 - 1 - 5

func validateDeployment(d *Deployment, maxReplicas int32) field.ErrorList {
	errs := validateObjectMeta(&d.ObjectMeta, field.NewPath("metadata"))
	if len(d.Name) > maxDeploymentNameLength && len(content.IsDNS1123Subdomain(d.Name)) == 0 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), d.Name, fmt.Sprintf(
			"must be no more than %d bytes, so that the names of its pods (<name>-<pod-template-hash>-<suffix>) are valid",
			maxDeploymentNameLength)))
	}
	return append(errs, validateDeploymentSpec(&d.Spec, maxReplicas, field.NewPath("spec"))...)
}

func validateDeploymentSpec(s *DeploymentSpec, maxReplicas int32, fld *field.Path) field.ErrorList {
	errs := validateReplicatedPods(s.Replicas, maxReplicas, s.Selector, &s.Template, fld)
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, fld.Child("strategy"))...)

	errs = append(errs, nonNegative(int64(s.MinReadySeconds), fld.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, nonNegative(int64(*s.RevisionHistoryLimit), fld.Child("revisionHistoryLimit"))...)
	}
	if p := s.ProgressDeadlineSeconds; p != nil {
		pPath := fld.Child("progressDeadlineSeconds")
		errs = append(errs, nonNegative(int64(*p), pPath)...)
		if *p <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(pPath, *p, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// validateReplicatedPods checks what a Deployment's spec and a
// ReplicaSet's share: replicas set and within maxReplicas; the selector
// set, valid and not empty; the template a valid pod that the selector
// selects. Its match with the template's labels is checked only when the
// selector is all three, as it means nothing otherwise.
func validateReplicatedPods(replicas *int32, maxReplicas int32, sel *LabelSelector, template *PodTemplateSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if replicas == nil {
		errs = append(errs, field.Required(fld.Child("replicas"), ""))
	} else {
		errs = append(errs, validateReplicas(*replicas, maxReplicas, fld.Child("replicas"))...)
	}

	var selector labels.Selector
	selPath := fld.Child("selector")
	if sel == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		selErrs := validateLabelSelector(sel, selPath)
		errs = append(errs, selErrs...)
		parsed, err := LabelSelectorAsSelector(sel)
		switch {
		case len(sel.MatchLabels)+len(sel.MatchExpressions) == 0:
			// Kubernetes says "deployment" for ReplicaSets too.
			errs = append(errs, field.Invalid(selPath, sel, "empty selector is invalid for deployment"))
		case err != nil && len(selErrs) == 0:
			errs = append(errs, field.Invalid(selPath, sel, "invalid label selector: "+err.Error()))
		case err == nil:
			selector = parsed
		}
	}
	return append(errs, validatePodTemplateSpec(template, selector, fld.Child("template"))...)
}

// nonNegative is Kubernetes' ValidateNonnegativeField.
func nonNegative(v int64, fld *field.Path) field.ErrorList {
	if v < 0 {
		return field.ErrorList{field.Invalid(fld, v, isNegativeErrorMsg)}
	}
	return nil
}

// validateLabelSelector is Kubernetes' ValidateLabelSelector, label values
// checked strictly (as for a Deployment's selector): the keys and values of
// matchLabels, and each expression's operator, key and values.
func validateLabelSelector(s *LabelSelector, fld *field.Path) field.ErrorList {
	errs := validateLabels(s.MatchLabels, fld.Child("matchLabels"))
	for i, e := range s.MatchExpressions {
		idx := fld.Child("matchExpressions").Index(i)
		switch e.Operator {
		case LabelSelectorOpIn, LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				errs = append(errs, field.Required(idx.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case LabelSelectorOpExists, LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				errs = append(errs, field.Forbidden(idx.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs = append(errs, field.Invalid(idx.Child("operator"), e.Operator, "not a valid selector operator"))
		}
		errs = append(errs, invalidEach(idx.Child("key"), e.Key, validation.IsQualifiedName(e.Key))...)
		for j, v := range e.Values {
			errs = append(errs, invalidEach(idx.Child("values").Index(j), v, validation.IsValidLabelValue(v))...)
		}
	}
	return errs
}

// validatePodTemplateSpec is Kubernetes' ValidatePodTemplateSpecForReplicaSet:
// the template's labels match the selector (when there is a usable one),
// its labels and annotations are valid, its spec is a valid pod spec whose
// restartPolicy is Always.
func validatePodTemplateSpec(t *PodTemplateSpec, selector labels.Selector, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	meta := fld.Child("metadata")
	if selector != nil && !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(meta.Child("labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, validateLabels(t.Labels, meta.Child("labels"))...)
	errs = append(errs, validateAnnotations(t.Annotations, meta.Child("annotations"))...)
	// Pods made from the template get their owner and finalizers from the
	// controller and the cluster, never from the template.
	if len(t.OwnerReferences) > 0 {
		errs = append(errs, field.Forbidden(meta.Child("ownerReferences"), "may not be set in a pod template"))
	}
	if len(t.Finalizers) > 0 {
		errs = append(errs, field.Forbidden(meta.Child("finalizers"), "may not be set in a pod template"))
	}
	spec := fld.Child("spec")
	errs = append(errs, validatePodSpec(&t.Spec, spec, false)...)
	// An invalid or missing policy is already reported by validatePodSpec.
	switch t.Spec.RestartPolicy {
	case RestartPolicyOnFailure, RestartPolicyNever:
		errs = append(errs, field.NotSupported(spec.Child("restartPolicy"), t.Spec.RestartPolicy,
			[]RestartPolicy{RestartPolicyAlways}))
	}
	return errs
}

// deploymentStrategies are the strategy types, in the order Kubernetes
// lists them.
var deploymentStrategies = []DeploymentStrategyType{RecreateDeploymentStrategyType, RollingUpdateDeploymentStrategyType}

// validateDeploymentStrategy is Kubernetes' ValidateDeploymentStrategy. An
// unknown type is reported at strategy.type (Kubernetes names the whole
// strategy), which says more precisely what to fix.
func validateDeploymentStrategy(s *DeploymentStrategy, fld *field.Path) field.ErrorList {
	switch s.Type {
	case RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fld.Child("rollingUpdate"),
				"may not be specified when strategy `type` is '"+string(RecreateDeploymentStrategyType)+"'")}
		}
		return nil
	case RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fld.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdate(s.RollingUpdate, fld.Child("rollingUpdate"))
	case "":
		return field.ErrorList{field.Required(fld.Child("type"), "")}
	default:
		return field.ErrorList{field.NotSupported(fld.Child("type"), s.Type, deploymentStrategies)}
	}
}

// validateRollingUpdate is Kubernetes' ValidateRollingUpdateDeployment:
// both bounds non-negative integers or percentages, maxUnavailable at most
// 100%, and not both 0 (no pod could ever be replaced). Percentages must
// also fit an int32 (Kubernetes' would fail later, in the controller's
// arithmetic); maxSurge may exceed 100%, as in Kubernetes.
func validateRollingUpdate(ru *RollingUpdateDeployment, fld *field.Path) field.ErrorList {
	unavailPath, surgePath := fld.Child("maxUnavailable"), fld.Child("maxSurge")
	var errs field.ErrorList
	if ru.MaxUnavailable == nil {
		errs = append(errs, field.Required(unavailPath, ""))
	} else {
		errs = append(errs, validateIntOrPercent(*ru.MaxUnavailable, unavailPath)...)
	}
	if ru.MaxSurge == nil {
		errs = append(errs, field.Required(surgePath, ""))
	} else {
		errs = append(errs, validateIntOrPercent(*ru.MaxSurge, surgePath)...)
	}
	if ru.MaxUnavailable == nil || ru.MaxSurge == nil {
		return errs
	}
	unavail, unavailPercent, unavailOK := intOrPercentValue(*ru.MaxUnavailable)
	surge, _, surgeOK := intOrPercentValue(*ru.MaxSurge)
	if unavailOK && surgeOK && unavail == 0 && surge == 0 {
		errs = append(errs, field.Invalid(unavailPath, *ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	if unavailOK && unavailPercent && unavail > 100 {
		errs = append(errs, field.Invalid(unavailPath, *ru.MaxUnavailable, "must not be greater than 100%"))
	}
	return errs
}

// validateIntOrPercent is Kubernetes' ValidatePositiveIntOrPercent (which,
// despite its name, allows 0), plus the int32 bound on percentages.
func validateIntOrPercent(v intstr.IntOrString, fld *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		if msgs := validation.IsValidPercent(v.StrVal); len(msgs) > 0 {
			return invalidEach(fld, v, msgs)
		}
		if _, _, ok := intOrPercentValue(v); !ok {
			return field.ErrorList{field.Invalid(fld, v, "must not be greater than "+strconv.Itoa(math.MaxInt32)+"%")}
		}
		return nil
	case intstr.Int:
		return nonNegative(int64(v.IntVal), fld)
	default:
		// Only a Go caller can make one; its value means nothing.
		return field.ErrorList{field.Invalid(fld, field.OmitValueType{}, "must be an integer or percentage (e.g '5%')")}
	}
}

// intOrPercentValue returns the number of an integer or of a valid
// percentage ("25%" is 25, percent true); ok is false for anything else,
// a percentage beyond int32 included.
func intOrPercentValue(v intstr.IntOrString) (n int32, percent, ok bool) {
	switch v.Type {
	case intstr.Int:
		return v.IntVal, false, true
	case intstr.String:
		if len(validation.IsValidPercent(v.StrVal)) > 0 {
			return 0, true, false
		}
		i, err := strconv.ParseInt(strings.TrimSuffix(v.StrVal, "%"), 10, 32)
		if err != nil {
			return 0, true, false
		}
		return int32(i), true, true
	}
	return 0, false, false
}
