package main

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
)

// describeSecret renders a Secret as kubectl describe secret does: the
// sizes of its values, never the values (but a service account token's
// token, which kubectl shows).
func describeSecret(s *api.Secret, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", s.Name)
	w.write(0, "Namespace:\t%s\n", s.Namespace)
	writeLabels(w, "Labels", s.Labels)
	writeAnnotations(w, "Annotations", s.Annotations)
	w.write(0, "\nType:\t%s\n", s.Type)
	w.write(0, "\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		if k == corev1.ServiceAccountTokenKey && s.Type == api.SecretTypeServiceAccountToken {
			w.write(0, "%s:\t%s\n", k, s.Data[k])
			continue
		}
		w.write(0, "%s:\t%d bytes\n", k, len(s.Data[k]))
	}
	if events != nil {
		w.write(0, "\n")
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// describeConfigMap renders a ConfigMap as kubectl describe configmap does:
// every value of data in full, binaryData by size.
func describeConfigMap(cm *api.ConfigMap, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", cm.Name)
	w.write(0, "Namespace:\t%s\n", cm.Namespace)
	writeLabels(w, "Labels", cm.Labels)
	writeAnnotations(w, "Annotations", cm.Annotations)
	w.write(0, "\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.Data)) {
		w.write(0, "%s:\n----\n", k)
		w.write(0, "%s\n", cm.Data[k])
	}
	w.write(0, "\nBinaryData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.BinaryData)) {
		w.write(0, "%s: %d bytes\n", k, len(cm.BinaryData[k]))
	}
	w.write(0, "\n")
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// unstructured is any object as JSON decodes it, for kinds without a
// describer of their own.
type unstructured map[string]any

func (u unstructured) meta() map[string]any {
	m, _ := u["metadata"].(map[string]any)
	return m
}

func (u unstructured) metaString(key string) string {
	s, _ := u.meta()[key].(string)
	return s
}

func (u unstructured) metaMap(key string) map[string]string {
	m, _ := u.meta()[key].(map[string]any)
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// describeGeneric is kubectl's generic describer, for every kind without
// one of its own: name, namespace, labels and annotations, then every
// other field of the object, nested and labelled as kubectl labels them,
// then the events.
func describeGeneric(u *unstructured, events []api.Event, now time.Time) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", u.metaString("name"))
	w.write(0, "Namespace:\t%s\n", u.metaString("namespace"))
	writeLabels(w, "Labels", u.metaMap("labels"))
	writeAnnotations(w, "Annotations", u.metaMap("annotations"))
	writeUnstructured(w, 0, *u, "", ".metadata.managedFields", ".metadata.name",
		".metadata.namespace", ".metadata.labels", ".metadata.annotations")
	if events != nil {
		describeEvents(w, events, now)
	}
	w.flush()
	return buf.String()
}

// writeUnstructured is kubectl's printUnstructuredContent: fields sorted,
// maps and lists nested one level deeper, the fields at the paths in skip
// left out.
func writeUnstructured(w *prefixWriter, level int, content map[string]any, prefix string, skip ...string) {
	for _, field := range slices.Sorted(maps.Keys(content)) {
		path := prefix + "." + field
		if slices.Contains(skip, path) {
			continue
		}
		switch v := content[field].(type) {
		case map[string]any:
			w.write(level, "%s:\n", smartLabel(field))
			writeUnstructured(w, level+1, v, path, skip...)
		case []any:
			w.write(level, "%s:\n", smartLabel(field))
			for _, child := range v {
				if m, ok := child.(map[string]any); ok {
					writeUnstructured(w, level+1, m, path, skip...)
				} else {
					w.write(level+1, "%v\n", child)
				}
			}
		default:
			w.write(level, "%s:\t%v\n", smartLabel(field), v)
		}
	}
}

// smartLabel is kubectl's smartLabelFor: "apiVersion" becomes
// "API Version", "creationTimestamp" "Creation Timestamp"; a field with
// anything but letters and '-' in it stays as it is.
func smartLabel(field string) string {
	if strings.IndexFunc(field, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' }) != -1 {
		return field
	}
	acronyms := []string{"API", "URL", "UID", "OSB", "GUID"}
	var parts []string
	for _, part := range camelSplit(field) {
		if slices.Contains(acronyms, strings.ToUpper(part)) {
			parts = append(parts, strings.ToUpper(part))
		} else {
			parts = append(parts, strings.ToUpper(part[:1])+part[1:])
		}
	}
	return strings.Join(parts, " ")
}

// camelSplit splits a camelCase word of letters (and '-') as
// fatih/camelcase does for kubectl: at each change from lower to upper
// case, and before the last capital of a run followed by a lower-case
// letter ("HTTPGet" is "HTTP", "Get").
func camelSplit(s string) []string {
	rs := []rune(s)
	var parts []string
	start := 0
	for i := 1; i < len(rs); i++ {
		lowerToUpper := unicode.IsLower(rs[i-1]) && unicode.IsUpper(rs[i])
		upperRunEnds := unicode.IsUpper(rs[i-1]) && unicode.IsUpper(rs[i]) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
		if lowerToUpper || upperRunEnds {
			parts = append(parts, string(rs[start:i]))
			start = i
		}
	}
	return append(parts, string(rs[start:]))
}
