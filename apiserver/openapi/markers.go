package openapi

// Some of what an OpenAPI schema says about a field of k8s.io/api is not in
// the compiled types at all but in comment markers of their source, which
// kube-openapi's generator reads: // +listType=map, +listMapKey=name,
// +mapType=atomic, +structType=atomic, +optional, +required. Reflection
// cannot see comments, so TestGeneratedMarkers reads them from the module
// sources go.mod pins and writes them into zz_generated_markers.go as two
// switch functions (code, not a package-level map: nothing is built at
// package initialization). Regenerate after bumping the k8s.io modules:
//
//go:generate go test -run TestGeneratedMarkers -update .

// fieldMarker is what a field's comment markers say.
type fieldMarker struct {
	listType    string   // x-kubernetes-list-type: atomic, set or map
	listMapKeys []string // x-kubernetes-list-map-keys, for listType map
	mapType     string   // x-kubernetes-map-type of a map field
	// presence overrides what the JSON tag says (omitempty is optional)
	// when a +optional or +required marker disagrees with it.
	presence presence
}

// presence is whether a field is required, when a marker says so against
// its JSON tag.
type presence int8

const (
	presenceFromTag presence = iota
	markedOptional
	markedRequired
)
