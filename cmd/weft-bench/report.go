package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// report is the whole result of a run, as written to comparison.json.
type report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  machine   `json:"machine"`
	Settings settings  `json:"settings"`
	Summary  summary   `json:"summary"`
	Runs     []modeRun `json:"runs"`
}

func (r *report) writeJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func (r *report) mode(name string) *modeSummary {
	for i := range r.Summary.Modes {
		if r.Summary.Modes[i].Mode == name {
			return &r.Summary.Modes[i]
		}
	}
	return nil
}

func (r *report) comparison(mode, base string) *comparisonSummary {
	for i := range r.Summary.Comparisons {
		if c := &r.Summary.Comparisons[i]; c.Mode == mode && c.Base == base {
			return c
		}
	}
	return nil
}

func (r *report) title(name string) string {
	if m := r.mode(name); m != nil {
		return m.Title
	}
	return name
}

// markdown renders the report as the tables of docs/BENCHMARKS.md; chart
// is the chart's path relative to where the text goes.
func (r *report) markdown(chart string) string {
	var b bytes.Buffer
	s := r.Settings
	fmt.Fprintf(&b, "Measured %s with\n\n```sh\n%s\n```\n\n", r.Started.UTC().Format("2006-01-02"), r.Command)
	fmt.Fprintf(&b, "on %s; load average %s at the start and %s at the end", r.Machine, r.Machine.LoadBefore, r.Machine.LoadAfter)
	if r.Machine.Note != "" {
		fmt.Fprintf(&b, " (%s)", r.Machine.Note)
	}
	fmt.Fprintf(&b, ". Each rep runs every mode in turn; a mode's rep is a %s warm-up, %s of closed loop with %d callers, then %s of open loop at each of %s req/s. Figures are the median [min..max] over %d reps; ratios and differences are taken rep by rep against %s. Tracing: %s.\n\n",
		s.Warmup, s.Duration, s.Concurrency, s.Duration, joinRates(s.Rates), s.Reps, r.title(baseline), s.Tracing)
	if chart != "" {
		fmt.Fprintf(&b, "![Latency, throughput and CPU per request of each mode](%s)\n\n", chart)
	}

	fmt.Fprintf(&b, "Saturated: %d callers, each sending its next request when the last is answered.\n\n", s.Concurrency)
	b.WriteString("| mode | req/s | × " + r.title(baseline) + " | CPU per request, µs | × " + r.title(baseline) + " | added vCPU per 1,000 req/s | others' load, vCPU |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, m := range r.Summary.Modes {
		c := r.comparison(m.Mode, baseline)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", m.Title,
			fmtStat(m.Throughput, count), cmpStat(c, func(c *comparisonSummary) stat { return c.Throughput }, ratio),
			fmtStat(m.CPUPerRequestUS, fixed(1)), cmpStat(c, func(c *comparisonSummary) stat { return c.CPUPerRequest }, ratio),
			cmpStat(c, func(c *comparisonSummary) stat { return c.AddedVCPUPer1000 }, signed(4)),
			fmtStat(m.OtherVCPU, fixed(2)))
	}
	for i, rate := range s.Rates {
		fmt.Fprintf(&b, "\nOpen loop at %s req/s; latency in ms from each request's scheduled send time.\n\n", count(rate))
		b.WriteString("| mode | p50 | p99 | p999 | added p50 | added p99 | vCPU | added vCPU per 1,000 req/s |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, m := range r.Summary.Modes {
			if i >= len(m.Open) {
				continue
			}
			o := m.Open[i]
			oc := openCmp(r.comparison(m.Mode, baseline), i)
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m.Title,
				fmtStat(o.P50, fixed(3)), fmtStat(o.P99, fixed(3)), fmtStat(o.P999, fixed(2)),
				ocStat(oc, func(o openComparison) stat { return o.AddedP50 }, signed(3)),
				ocStat(oc, func(o openComparison) stat { return o.AddedP99 }, signed(3)),
				fmtStat(o.VCPU, fixed(3)),
				ocStat(oc, func(o openComparison) stat { return o.AddedVCPUPer1000 }, signed(4)))
		}
	}
	r.headline(&b)
	b.WriteString("\nWhat the first request of each mode went through:\n\n")
	for _, m := range r.Summary.Modes {
		if m.Path != "" {
			fmt.Fprintf(&b, "- %s (`%s`): %s\n", m.Title, m.Mode, m.Path)
		}
	}
	return b.String()
}

// headline writes the figures Weft's goals are stated in, for the modes
// the run measured.
func (r *report) headline(b *bytes.Buffer) {
	type row struct{ what, goal, got string }
	var rows []row
	rate := -1 // the open-loop rate closest to 1,000 req/s
	for i, x := range r.Settings.Rates {
		if rate < 0 || math.Abs(x-1000) < math.Abs(r.Settings.Rates[rate]-1000) {
			rate = i
		}
	}
	at := ""
	if rate >= 0 {
		at = " at " + count(r.Settings.Rates[rate]) + " req/s"
	}
	added := func(mode, base string) string {
		oc := openCmp(r.comparison(mode, base), rate)
		if oc == nil || !oc.AddedP50.ok() {
			return ""
		}
		return fmtStat(oc.AddedP50, signed(3)) + " / " + fmtStat(oc.AddedP99, signed(3)) + " ms"
	}
	tput := func(mode, base string) string {
		if c := r.comparison(mode, base); c != nil && c.Throughput.ok() {
			return fmtStat(c.Throughput, ratio)
		}
		return ""
	}
	raw := r.title(baseline)
	rows = append(rows,
		row{"throughput, Weft mTLS vs " + raw, "≥ 0.95×", tput("weft-mtls", baseline)},
		row{"added p50 / p99" + at + ", Weft mTLS vs " + raw, "≤ +0.02 / +0.05 ms", added("weft-mtls", baseline)},
		row{"added p50 / p99" + at + ", HAProxy mTLS pair vs " + raw, "", added("haproxy-pair", baseline)},
		row{"throughput, Weft mTLS with tracing (100% sampled) vs " + raw, "≥ 0.75×", tput("weft-mtls-trace", baseline)},
	)
	if c := r.comparison("weft-mtls", baseline); c != nil && c.AddedVCPUPer1000.ok() {
		got := fmtStat(c.AddedVCPUPer1000, signed(4)) + " vCPU saturated"
		if oc := openCmp(c, rate); oc != nil && oc.AddedVCPUPer1000.ok() {
			got += ", " + fmtStat(oc.AddedVCPUPer1000, signed(4)) + at
		}
		rows = append(rows, row{"CPU per 1,000 req/s over " + raw + ", both sides, tracing off", "≤ 0.005 vCPU", got})
	}
	if l := r.Summary.Sidecar; l != nil {
		rows = append(rows, row{"HAProxy mTLS pair's CPU per request over " + raw + "'s (raw Go's lead)", "", fmtStat(l.RawLead, ratio)},
			row{"HAProxy mTLS pair's CPU per request over Weft mTLS's (Weft's lead)", "", fmtStat(l.WeftLead, ratio)},
			row{"Weft's lead over the HAProxy pair, as a share of raw Go's", "≥ 0.95×", fmtStat(l.Share, ratio)})
	}
	rows = append(rows,
		row{"throughput, Weft gRPC vs grpc-go (both mTLS)", "", tput("weft-grpc-mtls", "grpc-go-mtls")},
		row{"added p50 / p99" + at + ", Weft gRPC vs grpc-go", "", added("weft-grpc-mtls", "grpc-go-mtls")},
		row{"throughput, Weft vs net/http (both plaintext)", "", tput("weft", "net-http")},
	)
	b.WriteString("\nThe figures Weft's performance goals are stated in (allocations per request are measured by `go test -bench`, above):\n\n| | goal | measured |\n|---|---|---|\n")
	for _, x := range rows {
		if x.got != "" {
			fmt.Fprintf(b, "| %s | %s | %s |\n", x.what, x.goal, x.got)
		}
	}
}

func cmpStat(c *comparisonSummary, f func(*comparisonSummary) stat, format func(float64) string) string {
	if c == nil {
		return ""
	}
	return fmtStat(f(c), format)
}

func openCmp(c *comparisonSummary, i int) *openComparison {
	if c == nil || i < 0 || i >= len(c.Open) {
		return nil
	}
	return &c.Open[i]
}

func ocStat(o *openComparison, f func(openComparison) stat, format func(float64) string) string {
	if o == nil {
		return ""
	}
	return fmtStat(f(*o), format)
}

// fmtStat writes "median [min..max]", or only the median of one rep.
func fmtStat(s stat, format func(float64) string) string {
	switch {
	case !s.ok():
		return "–"
	case s.N == 1:
		return format(s.Median)
	}
	return fmt.Sprintf("%s [%s..%s]", format(s.Median), format(s.Min), format(s.Max))
}

func fixed(digits int) func(float64) string {
	return func(x float64) string { return strconv.FormatFloat(x, 'f', digits, 64) }
}

func signed(digits int) func(float64) string {
	return func(x float64) string {
		s := strconv.FormatFloat(x, 'f', digits, 64)
		if x >= 0 {
			s = "+" + s
		}
		return s
	}
}

func ratio(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) + "×" }

// count writes a whole number with spaces between thousands, as the other
// tables of BENCHMARKS.md do.
func count(x float64) string {
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	res := strings.Join(out, " ")
	if neg {
		res = "-" + res
	}
	return res
}

func joinRates(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = count(r)
	}
	return strings.Join(parts, ", ")
}

// Markers of the part of a document the command rewrites (-doc).
const (
	docBegin = "<!-- weft-bench:begin -->"
	docEnd   = "<!-- weft-bench:end -->"
)

// replaceSection returns doc with the text between the markers replaced.
func replaceSection(doc, text string) (string, error) {
	i := strings.Index(doc, docBegin)
	j := strings.Index(doc, docEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %s ... %s section to rewrite: add the two markers where the figures go", docBegin, docEnd)
	}
	return doc[:i+len(docBegin)] + "\n" + text + doc[j:], nil
}
