package policy

import (
	"fmt"
	"reflect"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// valueHooks decode the value at a schema pattern themselves, instead of the
// generic decoder. They return "" or what is wrong with the value.
var valueHooks = map[string]func(d *decoder, n *yaml.Node, v reflect.Value) string{
	"mesh.gossipKey":                                    decodeGossipKey,
	"defaults.retries.on[]":                             decodeCondition,
	"services.*.retries.on[]":                           decodeCondition,
	"services.*.inbound.authorization.rules[].claims.*": decodeClaimValues,
	"services.*.routes[].match.claims.*":                decodeClaimValues,
}

// decodeCondition reads a retry condition, taking a status written as a
// number (429, unquoted) as the condition of that name.
func decodeCondition(_ *decoder, n *yaml.Node, v reflect.Value) string {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int") {
		return "expected a condition name such as 5xx, got " + describe(n)
	}
	v.SetString(n.Value)
	return ""
}

// decodeClaimValues reads the values a claim condition accepts: one value
// or a list of them. Numbers and booleans are taken as written, which is
// how a claim holding them is matched (42, true).
func decodeClaimValues(_ *decoder, n *yaml.Node, v reflect.Value) string {
	scalar := func(n *yaml.Node) (string, bool) {
		if n.Kind != yaml.ScalarNode {
			return "", false
		}
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool":
			return n.Value, true
		}
		return "", false
	}
	if s, ok := scalar(n); ok {
		v.Set(reflect.ValueOf([]string{s}))
		return ""
	}
	// A value that cannot be read stands in for itself, so that the
	// condition is not also reported as listing no value.
	unreadable := reflect.ValueOf([]string{"?"})
	if n.Kind != yaml.SequenceNode {
		v.Set(unreadable)
		return fmt.Sprintf("expected a value or a list of values the claim may hold, like [admins, ops], got %s", describe(n))
	}
	vals := make([]string, 0, len(n.Content))
	for _, el := range n.Content {
		s, ok := scalar(el)
		if !ok {
			v.Set(unreadable)
			return fmt.Sprintf("expected a list of values the claim may hold, like [admins, ops], but an element is %s", describe(el))
		}
		vals = append(vals, s)
	}
	v.Set(reflect.ValueOf(vals))
	return ""
}

// valueChecks validate a decoded value at a schema pattern. They return ""
// or what is wrong with the value and what to write instead.
var valueChecks = map[string]func(v reflect.Value) string{
	"version":            checkInt(checkVersion),
	"mesh.name":          checkString(checkMeshName),
	"mesh.trustDomain":   checkString(checkTrustDomain),
	"admin.listen":       checkString(checkListen),
	"admin.allow[]":      checkString(checkAdminAllow),
	"admin.tapHeaders[]": checkString(checkTapHeader),
	"egress.allow[]":     checkString(checkEgressHost),
	"defaults.timeout":   checkDuration(checkTimeout),
	"services.*.timeout": checkDuration(checkTimeout),
}

// keyChecks validate the keys of a map at a schema pattern.
var keyChecks = map[string]func(key string) string{
	"services": checkServiceName,
}

func checkString(f func(string) string) func(reflect.Value) string {
	return func(v reflect.Value) string { return f(v.String()) }
}

func checkInt(f func(int64) string) func(reflect.Value) string {
	return func(v reflect.Value) string { return f(v.Int()) }
}

func checkDuration(f func(time.Duration) string) func(reflect.Value) string {
	return func(v reflect.Value) string { return f(time.Duration(v.Int())) }
}

func checkVersion(v int64) string {
	if v != Version {
		return fmt.Sprintf("unsupported policy version %d; this version of Weft reads version %d, so write `version: %d`", v, Version, Version)
	}
	return ""
}

func checkTimeout(t time.Duration) string {
	if t <= 0 {
		return "must be positive, like 2s; leave the key out to use the default"
	}
	return ""
}
