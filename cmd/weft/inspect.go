package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// The commands that read a running node's admin endpoint.
var (
	statusCommand    = command{name: "status", args: "ADMIN [--json] [--cert F --key F --cacert F]", summary: statusSummary, run: runStatus}
	membersCommand   = command{name: "members", args: "ADMIN [--json] [--cert F --key F --cacert F]", summary: membersSummary, run: runMembers}
	endpointsCommand = command{name: "endpoints", args: "ADMIN SERVICE [--json] [--cert F --key F --cacert F]", summary: endpointsSummary, run: runEndpoints}
	policyCommand    = command{name: "policy", args: "ADMIN [--json] [--cert F --key F --cacert F]", summary: policySummary, run: runPolicy}
)

const (
	statusSummary    = "show what a running node sees: members, destinations, policy, recent routing decisions"
	membersSummary   = "list the mesh's members as a running node sees them"
	endpointsSummary = "show a service's endpoints with a running node's balancer state"
	policySummary    = "show the policy a running node applies, defaults filled in, and how reloads went"
)

// maxDecisions is how many routing decisions weft status prints.
const maxDecisions = 10

// inspectArgs parses an inspect command's line: its positional arguments,
// --json and the TLS flags, in any order, and returns the client that
// reads the node. It returns the exit code to stop with, or -1.
func inspectArgs(name, synopsis, summary string, args []string, npos int, stdout, stderr io.Writer) (pos []string, asJSON bool, client *http.Client, code int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&asJSON, "json", false, "print the node's JSON instead of tables")
	tc := addTLSFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weft %s %s\n\n%s.\nADMIN is the node's admin address (admin.listen or $WEFT_ADMIN_ADDR), such as 127.0.0.1:9901;\nuse an https:// URL with --cert, --key and --cacert (from weft ca issue) for a node whose admin\nendpoint requires mutual TLS.\nExits 0 on success, 1 if the node cannot be read, 2 on a usage error.\n", name, synopsis, summary)
		fs.PrintDefaults()
	}
	// Flags may come after the positional arguments.
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				return nil, false, nil, exitOK
			}
			return nil, false, nil, exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != npos {
		fmt.Fprintf(stderr, "weft %s: want %d argument(s), got %d\n", name, npos, len(pos))
		fs.Usage()
		return nil, false, nil, exitUsage
	}
	client, err := tc.client()
	if err != nil {
		fmt.Fprintf(stderr, "weft %s: %v\n", name, err)
		return nil, false, nil, exitUsage
	}
	return pos, asJSON, client, -1
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	pos, asJSON, client, code := inspectArgs("status", "ADMIN [--json]", statusSummary, args, 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	raw, st, err := fetchStatus(client, pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "weft status:", err)
		return exitFailure
	}
	if asJSON {
		var buf bytes.Buffer
		json.Indent(&buf, raw, "", "  ")
		buf.WriteByte('\n')
		stdout.Write(buf.Bytes())
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(w, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	line("node", "%s", st.Node)
	svc := st.Service
	if v := join(", ", prefixed("version ", st.Local.Version), prefixed("zone ", st.Local.Zone)); v != "" {
		svc += " (" + v + ")"
	}
	line("service", "%s", svc)
	line("mesh", "%s", st.Mesh)
	line("state", "%s", st.Local.State)
	line("gossip", "%s · %d members alive · health score %d · dropped %d packets, %d entries",
		st.GossipAddr, st.Gossip.Members, st.Gossip.HealthScore, st.Gossip.DroppedPackets, st.Gossip.DroppedEntries)
	source := st.Policy.Source
	if source == "" {
		source = "built-in defaults"
	}
	line("policy", "%s%s · reloads %d applied, %d rejected", source, prefixed(" · sha256 ", short(st.Policy.SHA256)), st.Policy.Applied, st.Policy.Rejected)
	if st.Policy.LastError != "" {
		line("", "last reload error: %s", firstLine(st.Policy.LastError))
	}
	if id := st.Identity; id != nil {
		line("identity", "%s · mTLS %s · expires in %s · %d denied", id.ID, id.Mode, (time.Duration(id.ExpiresInSeconds) * time.Second).String(), id.Denied)
	}
	inbound := fmt.Sprintf("%d served · %d in flight", st.Inbound.Served, st.Inbound.InFlight)
	for _, reason := range sortedKeys(st.Inbound.Rejected) {
		inbound += fmt.Sprintf(" · %d rejected (%s)", st.Inbound.Rejected[reason], reason)
	}
	line("inbound", "%s", inbound)
	if tel := st.Telemetry; tel != nil {
		tracing := "off"
		if tel.Tracing {
			tracing = tel.TraceExporter + prefixed(", sampler ", tel.Sampler)
		}
		line("telemetry", "tracing %s · metrics push %s · access log %s", tracing, or(tel.MetricsExporter, "off"), onOff(tel.AccessLog))
	}
	w.Flush()

	fmt.Fprintln(stdout)
	w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DESTINATION\tBALANCER\tREADY\tENDPOINTS")
	for _, d := range st.Destinations {
		var addrs []string
		for _, ep := range d.Endpoints {
			addrs = append(addrs, ep.Addr)
		}
		fmt.Fprintf(w, "%s\t%s\t%d/%d\t%s\n", d.Service, d.LoadBalancer, d.Ready, d.Ready+d.Unready, or(strings.Join(addrs, ", "), "-"))
	}
	w.Flush()

	fmt.Fprintln(stdout)
	if len(st.Decisions) == 0 {
		fmt.Fprintln(stdout, "no routing decision yet")
		return exitOK
	}
	fmt.Fprintln(stdout, "RECENT ROUTING DECISIONS (newest first)")
	w = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "AGE\tDESTINATION\tREQUEST\tROUTE\tSUBSET\tATTEMPTS\tENDPOINT\tOUTCOME\tDURATION")
	for _, d := range st.Decisions[:min(len(st.Decisions), maxDecisions)] {
		outcome := d.Outcome
		if d.Status != 0 {
			outcome = strconv.Itoa(d.Status) + " " + outcome
		}
		if d.Error != "" {
			outcome += ": " + firstLine(d.Error)
		}
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\t%d\t%s\t%s\t%.2f ms\n", age(d.Time), d.Destination, d.Method, d.Path,
			or(d.Route, "-"), or(d.Subset, "-"), d.Attempts, or(d.Endpoint, "-"), outcome, d.DurationMs)
	}
	w.Flush()
	return exitOK
}

func runMembers(args []string, stdout, stderr io.Writer) int {
	pos, asJSON, client, code := inspectArgs("members", "ADMIN [--json]", membersSummary, args, 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	_, st, err := fetchStatus(client, pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "weft members:", err)
		return exitFailure
	}
	if asJSON {
		printJSON(stdout, st.Members)
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADDRESS\tSTATUS\tSERVICE")
	for _, m := range st.Members {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.Status, or(m.Service, "-"))
	}
	w.Flush()
	return exitOK
}

func runEndpoints(args []string, stdout, stderr io.Writer) int {
	pos, asJSON, client, code := inspectArgs("endpoints", "ADMIN SERVICE [--json]", endpointsSummary+".\nLATENCY is the moving average peak_ewma balances on; STATE is up, down (a refused connection) or ejected", args, 2, stdout, stderr)
	if code >= 0 {
		return code
	}
	_, st, err := fetchStatus(client, pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "weft endpoints:", err)
		return exitFailure
	}
	service := pos[1]
	i := slices.IndexFunc(st.Destinations, func(d destinationStatus) bool { return d.Service == service })
	if i < 0 {
		var known []string
		for _, d := range st.Destinations {
			known = append(known, d.Service)
		}
		fmt.Fprintf(stderr, "weft endpoints: node %s knows no service %q; it knows: %s\n", st.Node, service, or(strings.Join(known, ", "), "none"))
		return exitFailure
	}
	d := st.Destinations[i]
	if asJSON {
		printJSON(stdout, d)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: %s, %d ready", d.Service, d.LoadBalancer, d.Ready)
	if d.Unready > 0 {
		fmt.Fprintf(stdout, ", %d starting or draining", d.Unready)
	}
	fmt.Fprintf(stdout, ", retry budget %d (as seen by %s)\n\n", d.RetryBudget, st.Node)
	if len(d.Endpoints) == 0 {
		fmt.Fprintln(stdout, "no ready endpoint")
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ADDRESS\tNODE\tZONE\tVERSION\tSUBSETS\tWEIGHT\tIN-FLIGHT\tLATENCY\tSTATE\tBREAKER")
	for _, ep := range d.Endpoints {
		state := "up"
		switch {
		case ep.Ejected:
			state = "ejected"
		case ep.Down:
			state = "down"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.2f ms\t%s\t%s\n", ep.Addr, ep.Node, or(ep.Zone, "-"), or(ep.Version, "-"),
			or(strings.Join(ep.Subsets, ","), "-"), ep.Weight, ep.InFlight, ep.LatencyMs, state, or(ep.Breaker, "-"))
	}
	w.Flush()
	return exitOK
}

func runPolicy(args []string, stdout, stderr io.Writer) int {
	pos, asJSON, client, code := inspectArgs("policy", "ADMIN [--json]", policySummary, args, 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	_, st, err := fetchStatus(client, pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "weft policy:", err)
		return exitFailure
	}
	if asJSON {
		printJSON(stdout, st.Policy)
		return exitOK
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "source\t%s\n", or(st.Policy.Source, "built-in defaults"))
	fmt.Fprintf(w, "sha256\t%s\n", or(st.Policy.SHA256, "-"))
	fmt.Fprintf(w, "reloads\t%d applied, %d rejected\n", st.Policy.Applied, st.Policy.Rejected)
	w.Flush()
	if st.Policy.LastError != "" {
		fmt.Fprintf(stdout, "last reload error:\n%s\n", indent(st.Policy.LastError))
	}
	b, err := yaml.Dump(st.Policy.Effective, yaml.WithLineWidth(-1))
	if err != nil {
		fmt.Fprintln(stderr, "weft policy:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "\n# in force on %s, defaults filled in, secrets masked\n%s", st.Node, b)
	return exitOK
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func join(sep string, parts ...string) string {
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), sep)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
