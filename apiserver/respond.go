package apiserver

import (
	"encoding/json"
	"net/http"

	"github.com/gossipod/gossipod/apiserver/tables"
)

// writeObject writes what a GET returns: obj itself, or the metav1.Table
// of it when the request asks for one (`kubectl get`), with the matching
// Content-Type. Errors of negotiation (406, 400) are Status objects.
func writeObject(w http.ResponseWriter, r *http.Request, code int, obj any) {
	out, contentType, err := tables.Transform(r, obj)
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
