package mesh

import (
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/resilience/retry"
	"github.com/weftmesh/weft/telemetry"
	"github.com/weftmesh/weft/transport"
)

// effectivePolicy returns the policy in force as the node applies it, for
// the admin endpoint: every destination with its defaults filled in (the
// retry policy included), keys as in the file, zero values left out,
// durations written like the file writes them. Secrets are not shown: the
// gossip key is reported as present or not and OTLP header values are
// masked.
func effectivePolicy(p *policy.Policy) map[string]any {
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
	put("defaults", withRetryDefaults(p.Destination("")))
	services := map[string]any{}
	for name, svc := range p.Services {
		svc.DestinationConfig = withRetryDefaults(p.Destination(name))
		t, _ := tree(reflect.ValueOf(svc))
		services[name] = t
	}
	if len(services) > 0 {
		out["services"] = services
	}
	return out
}

// withRetryDefaults makes the retry policy a destination applies explicit.
func withRetryDefaults(d transport.DestinationConfig) transport.DestinationConfig {
	r := retry.DefaultConfig()
	if d.Retries != nil {
		r = d.Retries.WithDefaults()
	}
	d.Retries = &r
	return d
}

var durationType = reflect.TypeFor[time.Duration]()

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
		addFields(m, v)
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

// addFields puts v's yaml-tagged fields into m, inlining embedded structs.
func addFields(m map[string]any, v reflect.Value) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Anonymous && opts == "inline" {
			addFields(m, v.Field(i))
			continue
		}
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		if t, ok := tree(v.Field(i)); ok {
			m[name] = t
		}
	}
}
