package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/weftmesh/weft/admin/tap"
)

const (
	tapArgs    = "ADMIN [--service S] [--path P] [--status 5xx] [--direction in|out] [--protocol http|grpc] [--method M] [--rate N] [--count N] [--json] [--cert F --key F --cacert F]"
	tapSummary = "stream the requests passing through a running node as they happen"
)

var tapCommand = command{name: "tap", args: tapArgs, summary: tapSummary, run: runTap}

// tapFlags are the flags of weft tap that select events, named as the
// node's /weft/tap query parameters.
var tapFilterFlags = []struct{ name, usage string }{
	{"service", "only requests from or to this service"},
	{"path", "only requests whose path (or gRPC method) starts with this"},
	{"status", "only this status (503), class (2xx, 4xx, 5xx) or failed"},
	{"direction", "in (served) or out (calls made)"},
	{"protocol", "http or grpc"},
	{"method", "only this HTTP method or gRPC full method name"},
}

func runTap(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: weft tap %s\n\n%s, both directions, HTTP and gRPC:\ncaller, route, subset, endpoint, attempts, status, latency, trace ID and why the call went\nwhere it went. The node sends at most --rate events a second and says how many it dropped.\nADMIN is the node's admin address; use an https:// URL with --cert, --key and --cacert\n(from weft ca issue) for a node whose admin endpoint requires mutual TLS.\nExits 0 when stopped (Ctrl-C, or --count events), 1 if the node cannot be read, 2 on a usage error.\n\n", tapArgs, tapSummary)
		fs.PrintDefaults()
	}
	values := map[string]*string{}
	for _, f := range tapFilterFlags {
		values[f.name] = fs.String(f.name, "", f.usage)
	}
	rate := fs.Float64("rate", 0, fmt.Sprintf("events per second the node may send (default %d, at most %d)", tap.DefaultRate, tap.MaxRate))
	count := fs.Int("count", 0, "stop after this many events; 0 streams until interrupted")
	asJSON := fs.Bool("json", false, "print each event as a line of JSON")
	tc := addTLSFlags(fs)
	base, code := adminArg("tap", fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	q := url.Values{}
	for name, v := range values {
		if *v != "" {
			q.Set(name, *v)
		}
	}
	if *rate > 0 {
		q.Set("rate", strconv.FormatFloat(*rate, 'f', -1, 64))
	}
	client, err := tc.client()
	if err != nil {
		fmt.Fprintln(stderr, "weft tap:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/weft/tap?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "weft tap:", err)
		return exitUsage
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "weft tap: cannot reach the node's admin endpoint: %v\n", err)
		return exitFailure
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Fprintf(stderr, "weft tap: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return exitFailure
	}
	seen := 0
	err = readEvents(resp.Body, func(name, data string) bool {
		switch name {
		case "hello":
			var h struct{ Node string }
			json.Unmarshal([]byte(data), &h)
			fmt.Fprintf(stderr, "tapping node %s (Ctrl-C to stop)\n", h.Node)
		case "dropped":
			fmt.Fprintf(stderr, "… %s events dropped so far (over the rate, or this terminal was slow)\n", data)
		case "message":
			if *asJSON {
				fmt.Fprintln(stdout, data)
			} else {
				var e tap.Event
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					fmt.Fprintf(stderr, "weft tap: a bad event: %v\n", err)
					return false
				}
				fmt.Fprintln(stdout, formatEvent(&e))
			}
			seen++
			return *count == 0 || seen < *count
		}
		return true
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "weft tap:", err)
		return exitFailure
	}
	return exitOK
}

// readEvents calls fn with each server-sent event until fn returns false
// or the stream ends.
func readEvents(r io.Reader, fn func(name, data string) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	name, data := "message", ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" && !fn(name, data) {
				return nil
			}
			name, data = "message", ""
		case strings.HasPrefix(line, "event: "):
			name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the node closed the stream")
}

// formatEvent puts an event on one line.
func formatEvent(e *tap.Event) string {
	var b strings.Builder
	dir := "→"
	if e.Direction == tap.Inbound {
		dir = "⇢"
	}
	fmt.Fprintf(&b, "%s %-3s %s %s %s  ", e.Time.Local().Format("15:04:05.000"), e.Direction, or(e.Source, "?"), dir, e.Destination)
	if e.Protocol == "grpc" {
		b.WriteString(e.Method)
	} else {
		b.WriteString(e.Method + " " + e.Path)
	}
	status := strconv.Itoa(e.Status)
	if e.Protocol == "grpc" {
		status = "grpc " + status
	}
	fmt.Fprintf(&b, "  %s  %.2fms", status, e.DurationMs)
	if e.Endpoint != "" {
		fmt.Fprintf(&b, "  %s", e.Endpoint)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, "  attempts=%d", e.Attempts)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, "  trace=%s", e.TraceID)
	}
	if e.Error != "" {
		fmt.Fprintf(&b, "  error=%q", firstLine(e.Error))
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, "  (%s)", e.Reason)
	}
	return b.String()
}

// adminArg parses the command line of a command whose one argument is a
// node's admin address, and returns the URL of the admin endpoint's root,
// or the exit code to stop with (-1 to go on).
func adminArg(name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (base string, code int) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return "", exitOK
		}
		return "", exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "weft %s: want the node's admin address, got %q\n", name, pos)
		return "", exitUsage
	}
	if base, err = adminBase(pos[0]); err != nil {
		fmt.Fprintf(stderr, "weft %s: %v\n", name, err)
		return "", exitUsage
	}
	return base, -1
}

// adminBase turns ADMIN (host:port, or a URL) into the URL of the admin
// endpoint's root.
func adminBase(admin string) (string, error) {
	u, err := adminURL(admin)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(u, "/debug/weft"), nil
}
