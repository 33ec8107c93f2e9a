package apiserver

import (
	"context"
	"net/http"
	"sync"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// warningsKey is the context key of a request's warning sink.
type warningsKey struct{}

// warningSink collects the warnings of one request into its response's
// headers, which are written when the response is.
type warningSink struct {
	mu     sync.Mutex
	header http.Header
	seen   map[string]bool
}

// withWarnings lets the handlers of r add warnings to w (see AddWarning).
func withWarnings(w http.ResponseWriter, r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), warningsKey{}, &warningSink{header: w.Header(), seen: map[string]bool{}}))
}

// AddWarning adds an API warning to the response of the request ctx
// belongs to, as kube-apiserver's warning recorder does: a `Warning: 299 -
// "text"` header, which kubectl prints as `Warning: text` and client-go
// hands to its warning handler. A warning given twice is sent once; one
// that cannot be a header value (control characters) is dropped. It must
// be called before the response is written; outside a request it does
// nothing.
func AddWarning(ctx context.Context, text string) {
	sink, ok := ctx.Value(warningsKey{}).(*warningSink)
	if !ok {
		return
	}
	h, err := utilnet.NewWarningHeader(299, "-", text)
	if err != nil {
		return
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.seen[text] {
		return
	}
	sink.seen[text] = true
	sink.header.Add("Warning", h)
}
