package api

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Taint is a node's mark that repels pods which do not tolerate it.
type Taint = corev1.Taint

// Toleration lets a pod be placed on (or keep running on) a node with a
// matching taint.
type Toleration = corev1.Toleration

// TaintEffect is what a taint does to pods that do not tolerate it.
type TaintEffect = corev1.TaintEffect

// The taint effects and toleration operators, as Kubernetes names them.
const (
	TaintEffectNoSchedule       = corev1.TaintEffectNoSchedule
	TaintEffectPreferNoSchedule = corev1.TaintEffectPreferNoSchedule
	TaintEffectNoExecute        = corev1.TaintEffectNoExecute
	TolerationOpExists          = corev1.TolerationOpExists
	TolerationOpEqual           = corev1.TolerationOpEqual
)

// The taints the cluster sets on a node under resource pressure, as
// Kubernetes' node lifecycle controller does (TaintNodesByCondition): the
// placement keeps new pods off the node until the pressure is gone.
const (
	TaintNodeMemoryPressure = corev1.TaintNodeMemoryPressure
	TaintNodeDiskPressure   = corev1.TaintNodeDiskPressure
	TaintNodePIDPressure    = corev1.TaintNodePIDPressure
)

// ToleratesTaint reports whether the toleration matches the taint, as
// Kubernetes' Toleration.ToleratesTaint does with the alpha comparison
// operators (Lt, Gt) off: an empty effect matches every effect, an empty
// key (with Exists) every key, Exists every value, and Equal (or no
// operator) exactly the taint's value.
func ToleratesTaint(t *Toleration, taint *Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", TolerationOpEqual:
		return t.Value == taint.Value
	case TolerationOpExists:
		return true
	default:
		return false
	}
}

// TolerationsTolerateTaint reports whether any of the tolerations matches
// the taint (Kubernetes' v1helper.TolerationsTolerateTaint).
func TolerationsTolerateTaint(tolerations []Toleration, taint *Taint) bool {
	for i := range tolerations {
		if ToleratesTaint(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// FindUntoleratedTaint returns the first taint with one of the effects
// that the tolerations do not tolerate (kube-scheduler's
// v1helper.FindMatchingUntoleratedTaint), and whether there is one.
func FindUntoleratedTaint(taints []Taint, tolerations []Toleration, effects ...TaintEffect) (Taint, bool) {
	for i := range taints {
		if !slices.Contains(effects, taints[i].Effect) {
			continue
		}
		if !TolerationsTolerateTaint(tolerations, &taints[i]) {
			return taints[i], true
		}
	}
	return Taint{}, false
}

var (
	taintEffects        = []TaintEffect{TaintEffectNoExecute, TaintEffectNoSchedule, TaintEffectPreferNoSchedule}
	tolerationOperators = []corev1.TolerationOperator{TolerationOpEqual, TolerationOpExists}
)

// validateTolerations checks a pod's tolerations with kube-apiserver's
// rules and messages (ValidateTolerations), the comparison operators being
// off as they are by default.
func validateTolerations(tolerations []Toleration, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range tolerations {
		idx := fld.Index(i)
		if t.Key != "" {
			errs = append(errs, invalidEach(idx.Child("key"), t.Key, validation.IsQualifiedName(t.Key))...)
		}
		if t.Key == "" && t.Operator != TolerationOpExists {
			errs = append(errs, field.Invalid(idx.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != TaintEffectNoExecute {
			errs = append(errs, field.Invalid(idx.Child("effect"), t.Effect,
				"effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case "", TolerationOpEqual:
			errs = append(errs, invalidEach(idx.Child("operator"), t.Value, validation.IsValidLabelValue(t.Value))...)
		case TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(idx.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(idx.Child("operator"), t.Operator, tolerationOperators))
		}
		if t.Effect != "" && !slices.Contains(taintEffects, t.Effect) {
			errs = append(errs, field.NotSupported(idx.Child("effect"), t.Effect, taintEffects))
		}
	}
	return errs
}

// validateTaints checks a node's taints with kube-apiserver's rules: a
// qualified key, a label-value value, a known effect, and no two taints
// with the same key and effect.
func validateTaints(taints []Taint, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	type keyEffect struct {
		key    string
		effect TaintEffect
	}
	seen := map[keyEffect]bool{}
	for i, t := range taints {
		idx := fld.Index(i)
		errs = append(errs, invalidEach(idx.Child("key"), t.Key, validation.IsQualifiedName(t.Key))...)
		if t.Value != "" {
			errs = append(errs, invalidEach(idx.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		}
		switch {
		case t.Effect == "":
			errs = append(errs, field.Required(idx.Child("effect"), ""))
		case !slices.Contains(taintEffects, t.Effect):
			errs = append(errs, field.NotSupported(idx.Child("effect"), t.Effect, taintEffects))
		}
		k := keyEffect{t.Key, t.Effect}
		if seen[k] {
			errs = append(errs, field.Duplicate(idx, "taints must be unique by key and effect pair"))
		}
		seen[k] = true
	}
	return errs
}
