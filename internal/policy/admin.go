package policy

import (
	"fmt"
	"net/textproto"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// checkAdminAllow requires a service name or a SPIFFE ID.
func checkAdminAllow(s string) string {
	if strings.HasPrefix(s, "spiffe://") {
		if _, err := spiffeid.FromString(s); err != nil {
			return fmt.Sprintf("%q is not a SPIFFE ID: %v", truncate(s), err)
		}
		return ""
	}
	if msg := checkServiceName(s); msg != "" {
		return fmt.Sprintf("%q is neither a service name nor a spiffe:// ID", truncate(s))
	}
	return ""
}

// credentialHeaders carry secrets: the tap never shows their values.
var credentialHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "X-Auth-Token": true, "X-Amz-Security-Token": true,
}

// checkTapHeader requires a header name that carries no credentials.
func checkTapHeader(s string) string {
	if s == "" || strings.ContainsAny(s, " \t:\r\n") {
		return fmt.Sprintf("%q is not a header name", truncate(s))
	}
	name := textproto.CanonicalMIMEHeaderKey(s)
	lower := strings.ToLower(name)
	if credentialHeaders[name] || strings.Contains(lower, "token") || strings.Contains(lower, "secret") ||
		strings.Contains(lower, "password") || strings.HasSuffix(lower, "-key") {
		return fmt.Sprintf("%s carries credentials: the tap never shows its value; remove it", name)
	}
	return ""
}

// checkAdmin checks what the admin section needs from others: verified
// callers for its allow-list.
func (d *decoder) checkAdmin(p *Policy) {
	if len(p.Admin.Allow) > 0 && !p.Security.Enabled() {
		d.errorAtPath("admin.allow", "admin.allow: callers prove who they are with mutual TLS, which needs an identity: configure security.identity (spiffe, files or dev)")
	}
}
