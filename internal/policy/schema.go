package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// plannedKeys lists, as schema patterns, the keys of the planned schema that
// this version does not implement. Decoding rejects them with a message
// saying so rather than calling them unknown or ignoring them. Implementing
// one means adding its field to the Config struct it belongs in and
// removing its line here.
var plannedKeys = map[string]bool{}

// valueHooks decode the value at a schema pattern themselves, instead of the
// generic decoder. They return "" or what is wrong with the value.
var valueHooks = map[string]func(d *decoder, n *yaml.Node, v reflect.Value) string{
	"mesh.gossipKey": decodeGossipKey,
	"services.*.inbound.authorization.rules[].claims.*": decodeClaimValues,
	"services.*.routes[].match.claims.*":                decodeClaimValues,
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

// plannedKeysUnder returns the last segments of the planned keys directly
// under pattern.
func plannedKeysUnder(pattern string) []string {
	var keys []string
	for p := range plannedKeys {
		parent, last := "", p
		if i := strings.LastIndexByte(p, '.'); i >= 0 {
			parent, last = p[:i], p[i+1:]
		}
		if parent == pattern {
			keys = append(keys, last)
		}
	}
	slices.Sort(keys)
	return keys
}
