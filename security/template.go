package security

import (
	"fmt"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// DefaultIDTemplate is the SPIFFE ID a service's instances present when the
// policy's security.idTemplate is empty.
const DefaultIDTemplate = "spiffe://{trustDomain}/svc/{service}"

// Template maps service names to the SPIFFE IDs their instances present,
// and back. Its zero value is not usable; see [ParseTemplate].
type Template struct {
	td     spiffeid.TrustDomain
	prefix string // the ID up to {service}
	suffix string // the ID after {service}
}

// ParseTemplate parses a template such as [DefaultIDTemplate]: a SPIFFE ID
// in which {service} stands for the service name, once, in the path, and
// {trustDomain} for td. An empty text means [DefaultIDTemplate].
func ParseTemplate(text string, td spiffeid.TrustDomain) (Template, error) {
	if text == "" {
		text = DefaultIDTemplate
	}
	if td.IsZero() {
		return Template{}, fmt.Errorf("security: no trust domain: set mesh.trustDomain, e.g. example.org")
	}
	s := strings.ReplaceAll(text, "{trustDomain}", td.Name())
	before, after, ok := strings.Cut(s, "{service}")
	if !ok || strings.Contains(after, "{service}") {
		return Template{}, fmt.Errorf("security: ID template %q must contain {service} exactly once", text)
	}
	if strings.ContainsAny(before+after, "{}") {
		return Template{}, fmt.Errorf("security: ID template %q: only {trustDomain} and {service} may appear in braces", text)
	}
	t := Template{td: td, prefix: before, suffix: after}
	id, err := spiffeid.FromString(before + "x" + after)
	if err != nil {
		return Template{}, fmt.Errorf("security: ID template %q does not make SPIFFE IDs: %w", text, err)
	}
	if id.TrustDomain() != td {
		return Template{}, fmt.Errorf("security: ID template %q names trust domain %s, not the mesh's %s", text, id.TrustDomain(), td)
	}
	if !strings.HasPrefix(before, "spiffe://"+td.Name()+"/") {
		return Template{}, fmt.Errorf("security: ID template %q: {service} must be in the path", text)
	}
	return t, nil
}

// TrustDomain returns the trust domain the template's IDs belong to.
func (t Template) TrustDomain() spiffeid.TrustDomain { return t.td }

// ID returns the SPIFFE ID of service's instances.
func (t Template) ID(service string) (spiffeid.ID, error) {
	id, err := spiffeid.FromString(t.prefix + service + t.suffix)
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("security: service %q makes no SPIFFE ID: %w", service, err)
	}
	return id, nil
}

// Service returns the service whose instances present id, if the template
// makes id from a service name.
func (t Template) Service(id spiffeid.ID) (string, bool) {
	s := id.String()
	if len(s) <= len(t.prefix)+len(t.suffix) || !strings.HasPrefix(s, t.prefix) || !strings.HasSuffix(s, t.suffix) {
		return "", false
	}
	name := s[len(t.prefix) : len(s)-len(t.suffix)]
	if strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}
