package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"

	"github.com/gossipod/gossipod/api"
)

// V2Root is where the OpenAPI v2 document is served.
const V2Root = "/openapi/v2"

// The protobuf media types of the v2 document, as kube-openapi's handler
// names them: client-go asks for the older name (with "@"), and both are
// answered with the newer one.
const (
	contentTypeV2Protobuf           = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	contentTypeV2ProtobufDeprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
)

// ServeV2 serves the OpenAPI v2 document (see v2.go) at V2Root, in JSON or
// in gnostic's protobuf by the Accept header, as kube-apiserver does:
// client-go's OpenAPISchema (kubectl's validation before 1.27) accepts the
// protobuf only and falls back to the long-gone /swagger-2.0.0.pb-v1 on a
// 404 or 406. Clauses are tried in the order of their q-values, a
// wildcard gets JSON, and a header naming neither is a 406. Built on the
// first request and kept, gzipped, like the v3 documents; each form has
// its own ETag.
func (s *Service) ServeV2(w http.ResponseWriter, r *http.Request) {
	s.v2once.Do(s.buildV2)
	if s.v2err != nil {
		writeStatus(w, api.NewInternalError(s.v2err))
		return
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		for _, offer := range []struct {
			mediaType, contentType string
			doc                    built
		}{
			{contentTypeJSON, contentTypeJSON, s.v2JSON},
			{contentTypeV2ProtobufDeprecated, contentTypeV2Protobuf, s.v2Pb},
			{contentTypeV2Protobuf, contentTypeV2Protobuf, s.v2Pb},
		} {
			typ, sub, _ := strings.Cut(offer.mediaType, "/")
			if (clause.Type == typ || clause.Type == "*") && (clause.SubType == sub || clause.SubType == "*") {
				serve(w, r, offer.doc, offer.contentType)
				return
			}
		}
	}
	writeStatus(w, api.NewStatus(http.StatusNotAcceptable, "NotAcceptable",
		"only the following media types are accepted: "+contentTypeJSON+", "+contentTypeV2Protobuf))
}

// buildV2 renders the v2 document in JSON, then its protobuf as
// kube-openapi makes it: gnostic parses the JSON (which also checks it is
// a valid Swagger 2.0 document) and the result is marshalled.
func (s *Service) buildV2() {
	doc, err := buildV2(s.resources)
	if err != nil {
		s.v2err = fmt.Errorf("build the OpenAPI v2 document: %w", err)
		return
	}
	body, err := json.Marshal(doc)
	if err != nil {
		s.v2err = fmt.Errorf("render the OpenAPI v2 document: %w", err)
		return
	}
	parsed, err := openapi_v2.ParseDocument(body)
	if err != nil {
		s.v2err = fmt.Errorf("parse the OpenAPI v2 document as Swagger 2.0: %w", err)
		return
	}
	pb, err := proto.Marshal(parsed)
	if err != nil {
		s.v2err = fmt.Errorf("marshal the OpenAPI v2 document to protobuf: %w", err)
		return
	}
	if s.v2JSON, err = newBuilt(body); err == nil {
		s.v2Pb, err = newBuilt(pb)
	}
	if err != nil {
		s.v2err = fmt.Errorf("compress the OpenAPI v2 document: %w", err)
	}
}
