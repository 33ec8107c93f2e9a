package discovery

import (
	"cmp"
	"mime"
	"slices"
	"strconv"
	"strings"
)

// mediaType is the form a discovery response takes.
type mediaType int

const (
	// mediaNone: nothing the client accepts can be served (406).
	mediaNone mediaType = iota
	// mediaJSON: the legacy documents (APIVersions, APIGroupList,
	// APIResourceList) as application/json.
	mediaJSON
	// mediaAggregated: apidiscovery.k8s.io/v2 APIGroupDiscoveryList.
	mediaAggregated
)

// contentTypeAggregated is the Content-Type of aggregated discovery, which
// client-go's discovery client checks (discovery.ContentTypeIsGVK) to
// decide how to decode the body: without it, it would decode an
// APIGroupDiscoveryList as a legacy document and find nothing.
const contentTypeAggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// negotiate chooses the response's form from an Accept header, taking the
// client's clauses in its order of preference (q, then the more specific
// first) and the first one that can be served:
//
//   - application/json, application/* or */* with g=apidiscovery.k8s.io;
//     v=v2;as=APIGroupDiscoveryList is aggregated discovery, where the
//     document has an aggregated form (aggregatedOK: /api and /apis);
//   - the same without g, v and as is the legacy document;
//   - anything else is skipped: other conversions (v2beta1, which
//     kube-apiserver stopped serving in 1.35, Table), protobuf, YAML.
//
// kubectl 1.37 sends "<aggregated v2>;profile=nopeer,<aggregated v2>,
// application/json": the profile only matters to an apiserver that merges
// its peers' discovery, which gossipod's agents never need to (they all
// serve the same API), so it is ignored. An empty header is the legacy
// document, as for any client that does not say.
func negotiate(accept string, aggregatedOK bool) mediaType {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON
	}
	for _, c := range parseAccept(accept) {
		if !(c.typ == "*" && c.sub == "*") && !(c.typ == "application" && (c.sub == "json" || c.sub == "*")) {
			continue
		}
		g, v, as := c.params["g"], c.params["v"], c.params["as"]
		switch {
		case g == "" && v == "" && as == "":
			return mediaJSON
		case aggregatedOK && g == "apidiscovery.k8s.io" && v == "v2" && as == "APIGroupDiscoveryList":
			return mediaAggregated
		}
	}
	return mediaNone
}

// acceptClause is one media range of an Accept header.
type acceptClause struct {
	typ, sub string
	params   map[string]string
	q        float64
}

// parseAccept splits an Accept header into its media ranges, sorted by
// preference: higher q first, then the more specific range (type/sub
// before type/* before */*), then the client's order. Ranges that do not
// parse, and those with q=0 (not acceptable), are left out.
func parseAccept(header string) []acceptClause {
	var out []acceptClause
	for part := range strings.SplitSeq(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok {
			continue
		}
		c := acceptClause{typ: typ, sub: sub, params: params, q: 1}
		if s, ok := params["q"]; ok {
			q, err := strconv.ParseFloat(s, 64)
			if err != nil {
				continue
			}
			c.q = q
			delete(params, "q")
		}
		if c.q <= 0 {
			continue
		}
		out = append(out, c)
	}
	specificity := func(c acceptClause) int {
		switch {
		case c.typ == "*":
			return 0
		case c.sub == "*":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b acceptClause) int {
		if c := cmp.Compare(b.q, a.q); c != 0 {
			return c
		}
		return cmp.Compare(specificity(b), specificity(a))
	})
	return out
}
