package policy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// checkMeshName and checkServiceName require DNS labels because the names
// end up in DNS-style identities and in the gossip layer's node names.
func checkMeshName(s string) string {
	if msg := dnsLabelProblem(s); msg != "" {
		return fmt.Sprintf("%q is not a valid mesh name: %s", truncate(s), msg)
	}
	return ""
}

func checkServiceName(s string) string {
	if msg := dnsLabelProblem(s); msg != "" {
		return fmt.Sprintf("%q is not a valid service name: %s", truncate(s), msg)
	}
	return ""
}

// dnsLabelProblem says why s is not a DNS label (RFC 1123, lowercase), or
// returns "".
func dnsLabelProblem(s string) string {
	const rule = "use 1 to 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
	if s == "" || len(s) > 63 {
		return rule
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return rule
		}
	}
	return ""
}

// checkEgressHost accepts a lowercase host name ("api.example.com") or a
// wildcard for every subdomain of one ("*.example.com").
func checkEgressHost(s string) string {
	host := strings.TrimPrefix(s, "*.")
	if strings.ContainsAny(s, ":/") {
		return fmt.Sprintf("%q is not a host name; write the bare name without scheme, port or path, like api.example.com", truncate(s))
	}
	if !isHostname(host) {
		return fmt.Sprintf("%q is not a host name; write a lowercase name like api.example.com, or *.example.com for every subdomain", truncate(s))
	}
	return ""
}

// isHostname reports whether s is a lowercase DNS name of dot-separated
// labels, at most 253 bytes long.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if dnsLabelProblem(label) != "" {
			return false
		}
	}
	return true
}

// checkListen requires host:port with a numeric port, where host is an IP
// address, a host name, or empty for every interface.
func checkListen(s string) string {
	const hint = "write host:port, like 127.0.0.1:9901"
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port; %s", truncate(s), hint)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Sprintf("%q has no valid port (0 to 65535); %s", truncate(s), hint)
	}
	if host != "" && net.ParseIP(host) == nil && !isHostname(strings.ToLower(host)) {
		return fmt.Sprintf("%q has an invalid host; %s", truncate(s), hint)
	}
	return ""
}
