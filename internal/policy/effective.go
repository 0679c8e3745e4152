package policy

import (
	"maps"
	"reflect"
	"time"

	"github.com/weftmesh/weft/telemetry"
)

// Effective returns the policy as a node applies it, for the admin
// endpoint: every destination with its defaults filled in (those of the
// retry policy, breakers and outlier detection included), keys as in the
// file, zero values left out, durations written like the file writes
// them. Secrets are not shown: the gossip key is reported as present or
// not and OTLP header values are masked. It walks the config structs by
// their yaml tags, as the decoder does.
func (p *Policy) Effective() map[string]any {
	out := map[string]any{"version": p.Version}
	m := map[string]any{"name": p.Mesh.Name, "gossipEncrypted": p.Mesh.GossipKey != nil}
	if p.Mesh.TrustDomain != "" {
		m["trustDomain"] = p.Mesh.TrustDomain
	}
	out["mesh"] = m
	put := func(key string, v any) {
		if t, ok := tree(reflect.ValueOf(v)); ok {
			out[key] = t
		}
	}
	put("admin", p.Admin)
	put("security", p.Security)
	tel := p.Telemetry
	for _, o := range []**telemetry.OTLPConfig{&tel.Tracing.OTLP, &tel.Metrics.OTLP} {
		if *o != nil && len((*o).Headers) > 0 {
			c := **o
			c.Headers = maps.Clone(c.Headers)
			for k := range c.Headers {
				c.Headers[k] = "(set)"
			}
			*o = &c
		}
	}
	put("telemetry", tel)
	put("egress", p.Egress)
	put("defaults", p.Routing().Default)
	services := map[string]any{}
	for name, svc := range p.Services {
		svc.DestinationConfig = p.Routing().Destinations[name]
		t, _ := tree(reflect.ValueOf(svc))
		services[name] = t
	}
	if len(services) > 0 {
		out["services"] = services
	}
	return out
}

// tree turns a config value into maps, lists and scalars keyed by its
// yaml tags. It reports false for a zero value, which the caller leaves
// out.
func tree(v reflect.Value) (any, bool) {
	if !v.IsValid() || v.IsZero() {
		return nil, false
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String(), true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if t, ok := tree(v.Elem()); ok {
			return t, true
		}
		// What a pointer points to is a setting even when zero
		// (sampleRatio: 0, retries: {}).
		if v.Elem().Kind() == reflect.Struct {
			return map[string]any{}, true
		}
		return v.Elem().Interface(), true
	case reflect.Struct:
		m := map[string]any{}
		fs := structFields(v.Type())
		for _, name := range fs.names {
			if t, ok := tree(v.FieldByIndex(fs.index[name])); ok {
				m[name] = t
			}
		}
		return m, len(m) > 0
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			if t, ok := tree(v.MapIndex(k)); ok {
				m[k.String()] = t
			} else {
				m[k.String()] = map[string]any{}
			}
		}
		return m, true
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "(set)", true
		}
		l := make([]any, 0, v.Len())
		for i := range v.Len() {
			t, _ := tree(v.Index(i))
			l = append(l, t)
		}
		return l, true
	}
	return v.Interface(), true
}
