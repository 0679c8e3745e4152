package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
)

// The chart's geometry, in pixels.
const (
	chartWidth = 960
	labelRight = 190 // mode names end here
	plotLeft   = 200
	plotRight  = 860 // value labels go to the right of it
)

// Colours (Tableau 10), one per percentile and one per process.
var (
	percentileColours = [3]string{"#4c78a8", "#f58518", "#e45756"}
	roleColours       = map[string]string{"client": "#4c78a8", "server": "#72b7b2", "haproxy-a": "#f58518", "haproxy-b": "#e45756"}
	throughputColour  = "#54a24b"
)

// svgChart draws the report: the open-loop latency percentiles of each
// mode (a panel per rate, log scale), its saturated throughput, and its
// CPU per request by process. Bars are medians over reps, whiskers their
// range.
func svgChart(r *report) []byte {
	var body bytes.Buffer
	c := &canvas{b: &body, y: 10}
	c.text(chartWidth/2, c.y+16, "middle", 16, "bold", "Weft and the alternatives, one request over loopback")
	c.y += 28
	c.text(chartWidth/2, c.y+12, "middle", 11, "", fmt.Sprintf("%s · %d reps, median and range · %s", r.Started.UTC().Format("2006-01-02"), r.Settings.Reps, r.Machine))
	c.y += 16
	if r.Machine.Note != "" {
		c.text(chartWidth/2, c.y+12, "middle", 11, "", r.Machine.Note)
		c.y += 16
	}
	c.y += 8
	for i, rate := range r.Settings.Rates {
		c.latencyPanel(r, i, rate)
	}
	c.throughputPanel(r)
	c.cpuPanel(r)

	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="Helvetica, Arial, sans-serif">`+"\n",
		chartWidth, c.y+10, chartWidth, c.y+10)
	fmt.Fprintf(&out, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	out.Write(body.Bytes())
	out.WriteString("</svg>\n")
	return out.Bytes()
}

// canvas writes SVG elements, top to bottom; y is where the next panel
// starts.
type canvas struct {
	b *bytes.Buffer
	y float64
}

func (c *canvas) text(x, y float64, anchor string, size int, weight, s string) {
	w := ""
	if weight != "" {
		w = ` font-weight="` + weight + `"`
	}
	fmt.Fprintf(c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d"%s>%s</text>`+"\n", x, y, anchor, size, w, html.EscapeString(s))
}

func (c *canvas) rect(x, y, w, h float64, fill string) {
	fmt.Fprintf(c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, max(w, 0.5), h, fill)
}

func (c *canvas) line(x1, y1, x2, y2 float64, stroke string, width float64) {
	fmt.Fprintf(c.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"/>`+"\n", x1, y1, x2, y2, stroke, width)
}

// whisker draws a stat's range across a bar's middle.
func (c *canvas) whisker(lo, hi, mid float64) {
	c.line(lo, mid, hi, mid, "#333", 1)
	c.line(lo, mid-3, lo, mid+3, "#333", 1)
	c.line(hi, mid-3, hi, mid+3, "#333", 1)
}

func (c *canvas) title(s string) {
	c.y += 8
	c.text(plotLeft, c.y+14, "start", 13, "bold", s)
	c.y += 24
}

// grid draws, behind the rows to come, the vertical lines of ticks from
// c.y down height pixels, and their labels under them.
func (c *canvas) grid(height float64, ticks []float64, pos func(float64) float64, label func(float64) string) {
	for _, t := range ticks {
		x := pos(t)
		c.line(x, c.y-4, x, c.y+height, "#ddd", 1)
		c.text(x, c.y+height+12, "middle", 10, "", label(t))
	}
}

func (c *canvas) legend(items []string, colours []string) {
	x := float64(plotLeft)
	for i, it := range items {
		c.rect(x, c.y, 10, 10, colours[i])
		c.text(x+14, c.y+9, "start", 11, "", it)
		x += 24 + 7*float64(len(it))
	}
	c.y += 20
}

func (c *canvas) latencyPanel(r *report, i int, rate float64) {
	c.title(fmt.Sprintf("Latency at %s req/s, open loop, from each request's scheduled time (ms, log scale)", count(rate)))
	c.legend([]string{"p50", "p99", "p999"}, percentileColours[:])
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range r.Summary.Modes {
		if i < len(m.Open) && m.Open[i].P50.ok() {
			lo = min(lo, m.Open[i].P50.Min)
			hi = max(hi, m.Open[i].P999.Max)
		}
	}
	if lo > hi || lo <= 0 {
		return
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi == dlo {
		dhi++
	}
	pos := func(v float64) float64 {
		return plotLeft + (math.Log10(max(v, math.Pow(10, dlo)))-dlo)/(dhi-dlo)*(plotRight-plotLeft)
	}
	const bar, gap = 8.0, 2.0
	const row = 3*(bar+gap) + 8
	var shown []modeSummary
	for _, m := range r.Summary.Modes {
		if i < len(m.Open) && m.Open[i].P50.ok() {
			shown = append(shown, m)
		}
	}
	var ticks []float64
	for d := dlo; d <= dhi; d++ {
		ticks = append(ticks, math.Pow(10, d))
	}
	c.grid(float64(len(shown))*row, ticks, pos, func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) })
	for _, m := range shown {
		o := m.Open[i]
		c.text(labelRight, c.y+(3*(bar+gap))/2+4, "end", 12, "", m.Title)
		for j, s := range []stat{o.P50, o.P99, o.P999} {
			y := c.y + float64(j)*(bar+gap)
			c.rect(plotLeft, y, pos(s.Median)-plotLeft, bar, percentileColours[j])
			c.whisker(pos(s.Min), pos(s.Max), y+bar/2)
			c.text(pos(s.Max)+4, y+bar-0.5, "start", 9, "", strconv.FormatFloat(s.Median, 'g', 3, 64))
		}
		c.y += row
	}
	c.y += 20
}

func (c *canvas) throughputPanel(r *report) {
	c.title(fmt.Sprintf("Throughput, closed loop with %d callers (req/s)", r.Settings.Concurrency))
	c.bars(r, func(m modeSummary) stat { return m.Throughput }, count, func(m modeSummary, pos func(float64) float64) {
		c.rect(plotLeft, c.y, pos(m.Throughput.Median)-plotLeft, 14, throughputColour)
	})
}

func (c *canvas) cpuPanel(r *report) {
	c.title("CPU per request at saturation, all of a mode's processes (µs)")
	roles := []string{"client", "server", "haproxy-a", "haproxy-b"}
	colours := make([]string, len(roles))
	for i, role := range roles {
		colours[i] = roleColours[role]
	}
	c.legend(roles, colours)
	label := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	c.bars(r, func(m modeSummary) stat { return m.CPUPerRequestUS }, label, func(m modeSummary, pos func(float64) float64) {
		// The processes' medians, stacked, scaled to the median total so
		// that the bar's length is the mode's median.
		sum := 0.0
		for _, role := range roles {
			sum += m.CPUByRole[role].Median
		}
		x := 0.0
		for i, role := range roles {
			v := m.CPUByRole[role].Median
			if v <= 0 || sum <= 0 {
				continue
			}
			w := v / sum * m.CPUPerRequestUS.Median
			c.rect(pos(x), c.y, pos(x+w)-pos(x), 14, colours[i])
			x += w
		}
	})
}

// bars draws one bar per mode on a linear scale from 0: bar draws the
// bar of a mode, whose stat (for the scale, the whisker and the label)
// is of.
func (c *canvas) bars(r *report, of func(modeSummary) stat, label func(float64) string, bar func(m modeSummary, pos func(float64) float64)) {
	var shown []modeSummary
	hi := 0.0
	for _, m := range r.Summary.Modes {
		if s := of(m); s.ok() {
			shown = append(shown, m)
			hi = max(hi, s.Max)
		}
	}
	if hi <= 0 {
		return
	}
	ticks := niceTicks(hi)
	top := ticks[len(ticks)-1]
	pos := func(v float64) float64 { return plotLeft + v/top*(plotRight-plotLeft) }
	c.grid(float64(len(shown))*22, ticks, pos, func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) })
	for _, m := range shown {
		s := of(m)
		c.text(labelRight, c.y+11, "end", 12, "", m.Title)
		bar(m, pos)
		c.whisker(pos(s.Min), pos(s.Max), c.y+7)
		c.text(pos(s.Max)+4, c.y+11, "start", 10, "", label(s.Median))
		c.y += 22
	}
	c.y += 20
}

// niceTicks returns 0 and round steps up to a round value at or above hi.
func niceTicks(hi float64) []float64 {
	mag := math.Pow(10, math.Floor(math.Log10(hi)))
	step := mag
	for _, f := range []float64{0.1, 0.2, 0.25, 0.5, 1} {
		if hi/(f*mag) <= 8 {
			step = f * mag
			break
		}
	}
	var ticks []float64
	for k := 0; ; k++ {
		v := float64(k) * step
		ticks = append(ticks, v)
		if v >= hi {
			return ticks
		}
	}
}
