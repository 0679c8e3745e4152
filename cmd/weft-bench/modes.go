package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// mode is one way of getting a request from the load generator to the
// server: a server side, run in a process of its own, and a client side,
// run in the load generator's process.
type mode struct {
	name  string // in -modes, file names and the JSON
	title string // in tables and the chart
	// serve runs the server side until ctx ends, calling announce once it
	// accepts requests.
	serve func(ctx context.Context, env childEnv, announce func(serverReady)) error
	// dial returns the client side, connected to what the server side
	// (or the sidecar pair in front of it) announced.
	dial func(ctx context.Context, env childEnv, t target) (*endpoint, error)
	// sidecars, if set, puts an HAProxy mTLS sidecar pair between client
	// and server: the server side is plain, the pair secures the hop.
	sidecars bool
}

// baseline is the mode every other is compared with: what a Go service
// secured by hand with the same certificates does.
const baseline = "raw-mtls"

// The Weft modes differ in their policy and tracing.
var (
	weftPlain      = weftSetup{policy: policyPlain}
	weftMTLS       = weftSetup{policy: policyMTLS}
	weftMTLSTraced = weftSetup{policy: policyMTLS, tracing: true}
)

// modes lists every mode, in the order of a rep, of tables and the chart.
var modes = []mode{
	{name: "net-http", title: "net/http", serve: rawHTTPServer(false), dial: rawHTTPClient(false, nil)},
	{name: baseline, title: "net/http + mTLS", serve: rawHTTPServer(true), dial: rawHTTPClient(true, nil)},
	{name: "weft", title: "Weft", serve: weftHTTPServer(weftPlain), dial: weftHTTPClient(weftPlain)},
	{name: "weft-mtls", title: "Weft mTLS", serve: weftHTTPServer(weftMTLS), dial: weftHTTPClient(weftMTLS)},
	{name: "weft-mtls-trace", title: "Weft mTLS + tracing", serve: weftHTTPServer(weftMTLSTraced), dial: weftHTTPClient(weftMTLSTraced)},
	{name: "haproxy-pair", title: "HAProxy mTLS pair", serve: rawHTTPServer(false), dial: rawHTTPClient(false, checkSidecars), sidecars: true},
	{name: "grpc-go-mtls", title: "grpc-go + mTLS", serve: rawGRPCServer, dial: rawGRPCClient},
	{name: "weft-grpc-mtls", title: "Weft gRPC mTLS", serve: weftGRPCServer(weftMTLS), dial: weftGRPCClient(weftMTLS)},
}

// comparison is a pair of modes whose ratios are reported.
type comparison struct{ mode, base string }

// comparisons lists every mode against the baseline, and the modes that
// have a closer reference against it.
func comparisons(names []string) []comparison {
	var out []comparison
	has := func(n string) bool { return slices.Contains(names, n) }
	if has(baseline) {
		for _, n := range names {
			if n != baseline {
				out = append(out, comparison{n, baseline})
			}
		}
	}
	for _, c := range []comparison{{"weft", "net-http"}, {"weft-grpc-mtls", "grpc-go-mtls"}} {
		if has(c.mode) && has(c.base) {
			out = append(out, c)
		}
	}
	return out
}

func lookupMode(name string) (mode, bool) {
	for _, m := range modes {
		if m.name == name {
			return m, true
		}
	}
	return mode{}, false
}

// selectModes returns the modes a -modes value names ("all", or names
// separated by commas), in the order of modes.
func selectModes(list string) ([]mode, error) {
	if list == "" || list == "all" {
		return modes, nil
	}
	want := map[string]bool{}
	for n := range strings.SplitSeq(list, ",") {
		n = strings.TrimSpace(n)
		if _, ok := lookupMode(n); !ok {
			return nil, fmt.Errorf("unknown mode %q: the modes are %s", n, modeNames(modes))
		}
		want[n] = true
	}
	var out []mode
	for _, m := range modes {
		if want[m.name] {
			out = append(out, m)
		}
	}
	return out, nil
}

func modeNames(ms []mode) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}
