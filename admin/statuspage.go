package admin

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v4"
)

// wantsHTML reports whether a /debug/weft request asks for the page
// rather than JSON: ?format=html, or a browser's Accept header, which
// lists text/html before any JSON type. Tools get JSON by default.
func wantsHTML(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "html":
		return true
	case "json":
		return false
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(part, ";")
		switch strings.TrimSpace(mt) {
		case "text/html":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

// writeStatusHTML renders s as the admin page.
func writeStatusHTML(w http.ResponseWriter, s Status) {
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, s); err != nil {
		http.Error(w, "weft: rendering the status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"yaml": func(v any) string {
		b, err := yaml.Dump(v, yaml.WithLineWidth(-1))
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return time.Since(t).Round(time.Millisecond).String() + " ago"
	},
	"ms":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) + " ms" },
	"join": strings.Join,
}).Parse(statusHTML))

const statusHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>weft · {{.Service}} · {{.Node}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.6em 0 .4em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.3em 0}th,td{padding:.2em .7em;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00020;font-weight:600}.ok{color:#186a3b}.dim{color:#777}pre{background:#f7f7f7;padding:.6em;overflow:auto}
</style></head><body>
<h1>{{.Service}} <span class="dim">{{.Node}}</span></h1>
<div>mesh <b>{{.Mesh}}</b> · gossip {{.GossipAddr}} · state <b>{{.Local.State}}</b>{{with .Local.Version}} · version {{.}}{{end}}{{with .Local.Zone}} · zone {{.}}{{end}} · <a href="?format=json">JSON</a> · <a href="/metrics">metrics</a> · <a href="/ui/">dashboard</a></div>
{{with .Identity}}<div>identity <b>{{.ID}}</b> · mTLS {{.Mode}} · SVID expires in {{.ExpiresInSeconds}} s · denied {{.Denied}}{{if .WouldDeny}} · would deny (dry run) {{.WouldDeny}}{{end}}</div>{{end}}

<h2>Members ({{len .Members}})</h2>
<table><tr><th>name</th><th>address</th><th>status</th><th>service</th></tr>
{{range .Members}}<tr><td>{{.Name}}</td><td>{{.Addr}}</td><td{{if ne .Status.String "alive"}} class="bad"{{end}}>{{.Status}}</td><td>{{.Service}}</td></tr>
{{end}}</table>
<div class="dim">gossip: {{.Gossip.Members}} alive · health score {{.Gossip.HealthScore}} · dropped packets {{.Gossip.DroppedPackets}} · dropped entries {{.Gossip.DroppedEntries}} · repairs {{.Gossip.Repairs}} · queued broadcasts {{.Gossip.Broadcasts}}</div>

<h2>Destinations</h2>
{{range .Destinations}}<h3>{{.Service}} <span class="dim">{{.LoadBalancer}} · {{.Ready}} ready{{if .Unready}} · {{.Unready}} starting or draining{{end}} · retry budget {{.RetryBudget}}</span></h3>
{{if .Endpoints}}<table><tr><th>endpoint</th><th>node</th><th>zone</th><th>version</th><th>subsets</th><th>weight</th><th>in flight</th><th>latency (EWMA)</th><th>state</th>{{if .Breakers}}<th>breaker</th>{{end}}</tr>
{{range .Endpoints}}<tr><td>{{.Addr}}</td><td>{{.Node}}</td><td>{{.Zone}}</td><td>{{.Version}}</td><td>{{join .Subsets ", "}}</td><td class="n">{{.Weight}}</td><td class="n">{{.InFlight}}</td><td class="n">{{ms .LatencyMs}}</td><td>{{if .Ejected}}<span class="bad">ejected</span>{{else if .Down}}<span class="bad">down</span>{{else}}<span class="ok">up</span>{{end}}</td>{{if .Breaker}}<td{{if ne .Breaker "closed"}} class="bad"{{end}}>{{.Breaker}}</td>{{end}}</tr>
{{end}}</table>{{else}}<div class="dim">no ready endpoint</div>{{end}}
{{end}}

<h2>Recent routing decisions</h2>
{{if .Decisions}}<table><tr><th>when</th><th>destination</th><th>request</th><th>route</th><th>subset</th><th>attempts</th><th>endpoint</th><th>outcome</th><th>duration</th><th>trace</th></tr>
{{range .Decisions}}<tr><td>{{ago .Time}}</td><td>{{.Destination}}</td><td>{{.Method}} {{.Path}}</td><td>{{.Route}}</td><td>{{.Subset}}</td><td>{{range $i, $t := .Tries}}{{if $i}}<br>{{end}}{{$t.Endpoint}} {{if $t.Status}}{{$t.Status}}{{else}}{{$t.Outcome}}{{end}}{{if $t.Hedge}} (hedge){{end}}{{else}}{{.Attempts}}{{end}}</td><td>{{.Endpoint}}</td><td{{if ne .Outcome "ok"}} class="bad"{{end}}>{{if .Status}}{{.Status}} {{end}}{{.Outcome}}{{with .Error}}: {{.}}{{end}}{{if .BudgetExhausted}} (retry budget exhausted){{end}}</td><td class="n">{{ms .DurationMs}}</td><td>{{.TraceID}}</td></tr>
{{end}}</table>{{else}}<div class="dim">no call yet</div>{{end}}

<h2>Catalog</h2>
<table><tr><th>service</th><th>node</th><th>state</th><th>version</th><th>zone</th><th>endpoints</th><th>weight</th></tr>
{{range $svc, $ins := .Catalog}}{{range $ins}}<tr><td>{{$svc}}</td><td>{{.Node}}</td><td>{{.State}}</td><td>{{.Version}}</td><td>{{.Zone}}</td><td>{{join .Endpoints ", "}}</td><td class="n">{{.Weight}}</td></tr>
{{end}}{{end}}</table>

<h2>Inbound</h2>
<div>served {{.Inbound.Served}} · in flight {{.Inbound.InFlight}}{{range $reason, $n := .Inbound.Rejected}} · rejected ({{$reason}}) {{$n}}{{end}}{{if .Inbound.AdaptiveLimit}} · adaptive limit {{.Inbound.AdaptiveLimit}}{{end}}{{with .Inbound.EndUser}}{{if .Unauthenticated}} · unauthenticated {{.Unauthenticated}}{{end}}{{if .ExternalDenied}} · denied by external authorization {{.ExternalDenied}}{{end}}{{if .ExternalFailed}} · external authorization failed {{.ExternalFailed}}{{end}}{{end}}</div>

<h2>Policy</h2>
<div>{{if .Policy.Source}}{{.Policy.Source}}{{else}}built-in defaults{{end}}{{with .Policy.SHA256}} · sha256 {{.}}{{end}} · reloads applied {{.Policy.Applied}} · rejected {{.Policy.Rejected}}</div>
{{with .Policy.LastError}}<div class="bad">last reload error:</div><pre class="bad">{{.}}</pre>{{end}}
<pre>{{yaml .Policy.Effective}}</pre>

{{with .Telemetry}}<h2>Telemetry</h2>
<div>tracing {{if .Tracing}}<b>on</b> → {{.TraceExporter}}{{with .Sampler}} · sampler {{.}}{{end}}{{else}}off{{end}} · metrics push {{if .MetricsExporter}}{{.MetricsExporter}}{{else}}off{{end}} · access log {{if .AccessLog}}on{{else}}off{{end}}</div>{{end}}
</body></html>
`
