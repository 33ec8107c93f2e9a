package serviceproxy

import "errors"

// ErrClosed is returned by a Proxier's methods after Close.
var ErrClosed = errors.New("serviceproxy: proxier closed")
