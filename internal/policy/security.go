package policy

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/internal/pemfile"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/authz"
	"github.com/weftmesh/weft/security/jwtauth"
	"github.com/weftmesh/weft/transport"
)

func checkTrustDomain(s string) string {
	if _, err := spiffeid.TrustDomainFromString(s); err != nil || strings.Contains(s, "://") {
		return fmt.Sprintf("%q is not a trust domain: write a lowercase name like example.org, without spiffe://", truncate(s))
	}
	return ""
}

// checkSecurity checks what no single section can: that an identity has a
// trust domain and a template to make IDs with, that modes needing an
// identity have one, and that authorization rules name services the
// policy knows and can match verified callers at all.
func (d *decoder) checkSecurity(p *Policy) {
	d.resolvePaths(&p.Security.Identity)
	d.resolveInboundPaths(p)
	sec := p.Security
	var (
		tmpl   security.Template
		tmplOK bool // the IDs of services can be made
	)
	if sec.Enabled() {
		td, tdErr := spiffeid.TrustDomainFromString(p.Mesh.TrustDomain)
		switch {
		case p.Mesh.TrustDomain == "" && !d.recovered:
			d.errorAtPath("security.identity", "security.identity: needs mesh.trustDomain, the trust domain of every service's SPIFFE ID; add it under mesh, e.g. `trustDomain: example.org`")
		case tdErr != nil:
			// Reported where it is written.
		default:
			var err error
			if tmpl, err = security.ParseTemplate(sec.IDTemplate, td); err != nil {
				d.errorAtPath("security.idTemplate", "security.idTemplate: "+strings.TrimPrefix(err.Error(), "security: "))
			} else {
				tmplOK = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(p.Services))
	for _, name := range names {
		svc := p.Services[name]
		base := "services." + name
		if svc.MTLS != "" {
			if err := svc.MTLS.Validate(); err != nil {
				d.errorAtPath(base+".mtls", base+".mtls: "+err.Error())
			} else if svc.MTLS != security.Disabled && !sec.Enabled() {
				d.errorAtPath(base+".mtls", fmt.Sprintf("%s.mtls: %s needs an identity: configure security.identity (spiffe, files or dev), or write disabled", base, svc.MTLS))
			}
		}
		if svc.Inbound == nil {
			continue
		}
		d.checkEndUser(base+".inbound", svc.Inbound)
		if svc.Inbound.Authorization == nil {
			continue
		}
		az := *svc.Inbound.Authorization
		path := base + ".inbound.authorization"
		var unknown []string
		if err := az.UnknownSources(func(s string) bool {
			_, ok := p.Services[s]
			if !ok {
				unknown = append(unknown, s)
			}
			return ok
		}); err != nil {
			d.fieldErrors(path, withSuggestions(err, unknown, names))
		}
		if svc.Inbound.JWT == nil {
			for i, r := range az.Rules {
				if len(r.Claims) > 0 {
					key := fmt.Sprintf("%s.rules[%d].claims", path, i)
					d.errorAtPath(key, fmt.Sprintf("%s: only requests with a verified end-user token have claims, and %s authenticates none: configure %s.inbound.jwt", key, name, base))
				}
			}
		}
		if az.NeedsPeers() && p.MTLS(name) == security.Disabled {
			d.errorAtPath(path, fmt.Sprintf("%s: rules need verified callers, but %s runs without mTLS: configure security.identity and an mtls mode other than disabled (only rules with claims and no from can do without)", path, name))
			continue
		}
		if tmplOK {
			if _, err := authz.Compile(az, tmpl.TrustDomain(), tmpl.ID); err != nil {
				d.fieldErrors(path, err)
			}
		} else if len(az.Rules) > 0 && !az.NeedsPeers() {
			// Rules on claims alone, for a service without an identity;
			// rules that need peers were reported above, or wait for the
			// identity's own error.
			if _, err := authz.Compile(az, spiffeid.TrustDomain{}, nil); err != nil {
				d.fieldErrors(path, err)
			}
		}
	}
}

// checkEndUser checks the files an inbound section's jwt and extAuthz
// name: key set files must hold usable keys, CA files certificates.
func (d *decoder) checkEndUser(path string, in *transport.InboundConfig) {
	if j := in.JWT; j != nil {
		for i, is := range j.Issuers {
			key := fmt.Sprintf("%s.jwt.issuers[%d].jwks", path, i)
			if is.JWKS.File != "" {
				if _, err := jwtauth.LoadKeySetFile(is.JWKS.File); err != nil {
					d.errorAtPath(key+".file", key+".file: "+strings.TrimPrefix(err.Error(), "jwtauth: "))
				}
			}
			d.checkCA(key+".ca", is.JWKS.CA)
		}
	}
	if x := in.ExtAuthz; x != nil {
		if x.Envoy != nil {
			d.checkCA(path+".extAuthz.envoy.ca", x.Envoy.CA)
		}
		if x.OPA != nil {
			d.checkCA(path+".extAuthz.opa.ca", x.OPA.CA)
		}
	}
}

// checkCA checks that a CA file, when named, holds PEM certificates.
func (d *decoder) checkCA(path, file string) {
	if file == "" {
		return
	}
	if _, err := pemfile.CertPool(file); err != nil {
		d.errorAtPath(path, fmt.Sprintf("%s: %v", path, err))
	}
}

// fieldErrors positions each problem of a fielderr list under path.
func (d *decoder) fieldErrors(path string, err error) {
	for _, e := range flatten(err) {
		if fe, ok := e.(*fielderr.Error); ok {
			d.errorAtPath(path+"."+fe.Key, path+"."+fe.Key+": "+fe.Msg)
			continue
		}
		d.errorAtPath(path, path+": "+e.Error())
	}
}

// errorAtPath records msg at the position of the key at path, or of its
// nearest parent in the file.
func (d *decoder) errorAtPath(path, msg string) {
	e := &Error{File: d.file, Line: 1, Column: 1, Msg: msg}
	for at := path; at != ""; at = parentPath(at) {
		if pos, ok := d.positions[at]; ok {
			e.Line, e.Column = pos.line, pos.column
			break
		}
	}
	d.errs = append(d.errs, e)
}

// resolvePaths makes the identity's relative paths relative to the policy
// file's directory, as file: references are, so that a policy means the
// same files whatever directory a node starts in.
func (d *decoder) resolvePaths(id *security.IdentityConfig) {
	abs := d.abs
	if id.Dev != nil {
		abs(&id.Dev.CA)
	}
	if id.Files != nil {
		abs(&id.Files.Cert)
		abs(&id.Files.Key)
		abs(&id.Files.Bundle)
	}
}

// abs makes a relative path relative to the policy file's directory.
func (d *decoder) abs(p *string) {
	if *p != "" && !filepath.IsAbs(*p) && d.file != "" {
		*p = filepath.Join(d.dir, *p)
	}
}

// resolveInboundPaths makes the relative paths of the services' jwt and
// extAuthz sections relative to the policy file's directory.
func (d *decoder) resolveInboundPaths(p *Policy) {
	for name, svc := range p.Services {
		in := svc.Inbound
		if in == nil {
			continue
		}
		if in.JWT != nil {
			issuers := slices.Clone(in.JWT.Issuers)
			for i := range issuers {
				d.abs(&issuers[i].JWKS.File)
				d.abs(&issuers[i].JWKS.CA)
			}
			j := *in.JWT
			j.Issuers = issuers
			in.JWT = &j
		}
		if x := in.ExtAuthz; x != nil {
			if x.Envoy != nil {
				e := *x.Envoy
				d.abs(&e.CA)
				x.Envoy = &e
			}
			if x.OPA != nil {
				o := *x.OPA
				d.abs(&o.CA)
				x.OPA = &o
			}
		}
		p.Services[name] = svc
	}
}

// withSuggestions adds "did you mean" to each unknown-service problem whose
// name is a likely typo of a service the policy names. unknown lists the
// names in the order their problems were found.
func withSuggestions(err error, unknown, services []string) error {
	var out fielderr.List
	i := 0
	for _, e := range flatten(err) {
		fe, ok := e.(*fielderr.Error)
		if !ok {
			return err
		}
		c := *fe
		if strings.HasPrefix(c.Msg, "unknown service") && i < len(unknown) {
			if near := closest(unknown[i], services); near != "" {
				c.Msg += fmt.Sprintf("; did you mean %q?", near)
			}
			i++
		}
		out = append(out, &c)
	}
	return out.Err()
}
