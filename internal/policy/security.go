package policy

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/weftmesh/weft/internal/fielderr"
	"github.com/weftmesh/weft/security"
	"github.com/weftmesh/weft/security/authz"
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
		if svc.Inbound == nil || svc.Inbound.Authorization == nil {
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
		if len(az.Rules) > 0 && p.MTLS(name) == security.Disabled {
			d.errorAtPath(path, fmt.Sprintf("%s: rules need verified callers, but %s runs without mTLS: configure security.identity and an mtls mode other than disabled", path, name))
			continue
		}
		if tmplOK {
			if _, err := authz.Compile(az, tmpl.TrustDomain(), tmpl.ID); err != nil {
				d.fieldErrors(path, err)
			}
		}
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
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) && d.file != "" {
			*p = filepath.Join(d.dir, *p)
		}
	}
	if id.Dev != nil {
		abs(&id.Dev.CA)
	}
	if id.Files != nil {
		abs(&id.Files.Cert)
		abs(&id.Files.Key)
		abs(&id.Files.Bundle)
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
