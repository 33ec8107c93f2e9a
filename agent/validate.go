package agent

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

var (
	dnsSubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelNameRe    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValueRe   = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
)

// validateDNSLabelish checks a node name the way Kubernetes checks node
// names (a DNS-1123 subdomain), so every node name is also a valid object
// name and hostname label value.
func validateDNSLabelish(name string) string {
	if len(name) > 253 {
		return "must be no more than 253 characters"
	}
	if !dnsSubdomainRe.MatchString(name) {
		return "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
	}
	return ""
}

// validateLabel checks a label key and value with Kubernetes' rules.
func validateLabel(key, value string) string {
	name := key
	if i := strings.LastIndex(key, "/"); i >= 0 {
		prefix := key[:i]
		name = key[i+1:]
		if prefix == "" || len(prefix) > 253 || !dnsSubdomainRe.MatchString(prefix) {
			return "key prefix must be a DNS subdomain"
		}
		if strings.HasPrefix(prefix, "kubernetes.io") || strings.HasSuffix(prefix, ".kubernetes.io") {
			return "the kubernetes.io/ prefix is reserved for labels the agent sets"
		}
	}
	if name == "" || len(name) > 63 || !labelNameRe.MatchString(name) {
		return "key name must be 63 characters or less, begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'"
	}
	if len(value) > 63 || !labelValueRe.MatchString(value) {
		return "value must be 63 characters or less, empty or begin and end with an alphanumeric character, and contain only alphanumerics, '-', '_' or '.'"
	}
	return ""
}

// splitJoinAddr parses a --join value, ADDR or ADDR:PORT, into host and port.
func splitJoinAddr(s string, defaultPort int) (string, int, error) {
	if s == "" {
		return "", 0, fmt.Errorf("empty address")
	}
	// No port: a host name or IPv4 address without a colon, or an IPv6
	// address, bracketed or bare.
	if !strings.Contains(s, ":") || net.ParseIP(strings.Trim(s, "[]")) != nil && !strings.Contains(s, "]:") {
		return strings.Trim(s, "[]"), defaultPort, nil
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port %q must be a number between 1 and 65535", portStr)
	}
	if host == "" {
		return "", 0, fmt.Errorf("missing host")
	}
	return host, port, nil
}
