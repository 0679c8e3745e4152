package main

import "slices"

// stat is a figure over the reps of a run: its median and range.
type stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"` // reps it is taken over
}

func statOf(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: med, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

func (s stat) ok() bool { return s.N > 0 }

// modeSummary is one mode over every rep that succeeded.
type modeSummary struct {
	Mode  string `json:"mode"`
	Title string `json:"title"`
	Path  string `json:"path"`
	Reps  int    `json:"reps"`
	// Closed loop: the most the mode serves.
	Throughput      stat            `json:"throughput"`
	ClosedP50       stat            `json:"closed_p50_ms"`
	ClosedP99       stat            `json:"closed_p99_ms"`
	CPUPerRequestUS stat            `json:"cpu_us_per_request"`
	CPUByRole       map[string]stat `json:"cpu_us_per_request_by_process"`
	VCPU            stat            `json:"vcpu"`
	OtherVCPU       stat            `json:"machine_other_vcpu"` // others' load on the machine meanwhile
	Open            []openSummary   `json:"open"`
}

// openSummary is one open-loop rate of a mode.
type openSummary struct {
	Rate       float64 `json:"rate"`
	Throughput stat    `json:"throughput"`
	P50        stat    `json:"p50_ms"`
	P99        stat    `json:"p99_ms"`
	P999       stat    `json:"p999_ms"`
	VCPU       stat    `json:"vcpu"`
}

// comparisonSummary is a mode against a base, rep by rep: each figure is
// taken from the two modes' runs of one rep, then summarised over reps.
type comparisonSummary struct {
	Mode string `json:"mode"`
	Base string `json:"base"`
	// Throughput and CPUPerRequest are ratios mode/base.
	Throughput    stat `json:"throughput_ratio"`
	CPUPerRequest stat `json:"cpu_per_request_ratio"`
	// AddedVCPUPer1000 is the CPU the mode spends beyond the base for
	// each 1,000 requests per second, at saturation.
	AddedVCPUPer1000 stat             `json:"added_vcpu_per_1000rps_saturated"`
	Open             []openComparison `json:"open"`
}

type openComparison struct {
	Rate             float64 `json:"rate"`
	AddedP50         stat    `json:"added_p50_ms"`
	AddedP99         stat    `json:"added_p99_ms"`
	AddedP999        stat    `json:"added_p999_ms"`
	AddedVCPUPer1000 stat    `json:"added_vcpu_per_1000rps"`
}

// sidecarLead compares Weft with the HAProxy pair by CPU per request,
// relative to what plain Go with mutual TLS achieves: RawLead is the
// pair's CPU per request over raw mTLS's, WeftLead over Weft mTLS's, and
// Share is WeftLead/RawLead, the part of raw Go's lead that Weft keeps.
type sidecarLead struct {
	RawLead  stat `json:"raw_lead"`
	WeftLead stat `json:"weft_lead"`
	Share    stat `json:"share"`
}

// summary is everything derived from the runs.
type summary struct {
	Modes       []modeSummary       `json:"modes"`
	Comparisons []comparisonSummary `json:"comparisons"`
	Sidecar     *sidecarLead        `json:"sidecar_lead,omitempty"`
}

// byRep indexes the successful runs by mode and rep.
type byRep map[string]map[int]*modeRun

func indexRuns(runs []modeRun) byRep {
	idx := byRep{}
	for i := range runs {
		r := &runs[i]
		if r.Error != "" || r.Closed == nil {
			continue
		}
		if idx[r.Mode] == nil {
			idx[r.Mode] = map[int]*modeRun{}
		}
		idx[r.Mode][r.Rep] = r
	}
	return idx
}

// pairs calls f for every rep in which all the named modes succeeded.
func (idx byRep) pairs(reps int, f func(rs []*modeRun), names ...string) {
	for rep := 1; rep <= reps; rep++ {
		rs := make([]*modeRun, len(names))
		all := true
		for i, n := range names {
			if rs[i] = idx[n][rep]; rs[i] == nil {
				all = false
			}
		}
		if all {
			f(rs)
		}
	}
}

func summarise(ms []mode, s settings, runs []modeRun) summary {
	idx := indexRuns(runs)
	var out summary
	for _, m := range ms {
		out.Modes = append(out.Modes, summariseMode(m, s, idx[m.name]))
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	for _, c := range comparisons(names) {
		out.Comparisons = append(out.Comparisons, compare(c, s, idx))
	}
	if _, ok := idx["haproxy-pair"]; ok {
		var raw, weft, share []float64
		idx.pairs(s.Reps, func(rs []*modeRun) {
			h, r, w := rs[0].Closed.CPUPerRequestUS, rs[1].Closed.CPUPerRequestUS, rs[2].Closed.CPUPerRequestUS
			if r > 0 && w > 0 {
				raw, weft, share = append(raw, h/r), append(weft, h/w), append(share, r/w)
			}
		}, "haproxy-pair", baseline, "weft-mtls")
		if len(share) > 0 {
			out.Sidecar = &sidecarLead{RawLead: statOf(raw), WeftLead: statOf(weft), Share: statOf(share)}
		}
	}
	return out
}

func summariseMode(m mode, s settings, reps map[int]*modeRun) modeSummary {
	ms := modeSummary{Mode: m.name, Title: m.title, CPUByRole: map[string]stat{}}
	var tput, p50, p99, cpu, vcpu, other []float64
	byRole := map[string][]float64{}
	open := make([][5][]float64, len(s.Rates))
	for rep := 1; rep <= s.Reps; rep++ {
		r := reps[rep]
		if r == nil {
			continue
		}
		if ms.Path == "" {
			ms.Path = r.Path
		}
		ms.Reps++
		c := r.Closed
		tput = append(tput, c.Throughput)
		p50, p99 = append(p50, c.Latency.P50), append(p99, c.Latency.P99)
		cpu, vcpu = append(cpu, c.CPUPerRequestUS), append(vcpu, c.VCPU)
		other = append(other, c.Machine.OtherSeconds/c.Seconds)
		for _, pc := range c.CPU {
			if c.Requests > 0 {
				byRole[pc.Role] = append(byRole[pc.Role], pc.Seconds/float64(c.Requests)*1e6)
			}
		}
		for i, p := range r.Open {
			if i < len(open) {
				for j, v := range []float64{p.Throughput, p.Latency.P50, p.Latency.P99, p.Latency.P999, p.VCPU} {
					open[i][j] = append(open[i][j], v)
				}
			}
		}
	}
	ms.Throughput, ms.ClosedP50, ms.ClosedP99 = statOf(tput), statOf(p50), statOf(p99)
	ms.CPUPerRequestUS, ms.VCPU, ms.OtherVCPU = statOf(cpu), statOf(vcpu), statOf(other)
	for role, xs := range byRole {
		ms.CPUByRole[role] = statOf(xs)
	}
	for i, rate := range s.Rates {
		o := open[i]
		ms.Open = append(ms.Open, openSummary{Rate: rate, Throughput: statOf(o[0]), P50: statOf(o[1]), P99: statOf(o[2]), P999: statOf(o[3]), VCPU: statOf(o[4])})
	}
	return ms
}

func compare(c comparison, s settings, idx byRep) comparisonSummary {
	cs := comparisonSummary{Mode: c.mode, Base: c.base}
	var tput, cpu, added []float64
	open := make([][4][]float64, len(s.Rates))
	idx.pairs(s.Reps, func(rs []*modeRun) {
		m, b := rs[0], rs[1]
		if b.Closed.Throughput > 0 {
			tput = append(tput, m.Closed.Throughput/b.Closed.Throughput)
		}
		if b.Closed.CPUPerRequestUS > 0 {
			cpu = append(cpu, m.Closed.CPUPerRequestUS/b.Closed.CPUPerRequestUS)
		}
		// µs of CPU per request, times 1,000 requests per second, is
		// 1/1,000 of a vCPU per µs.
		added = append(added, (m.Closed.CPUPerRequestUS-b.Closed.CPUPerRequestUS)/1000)
		for i := range min(len(m.Open), len(b.Open), len(open)) {
			mo, bo := m.Open[i], b.Open[i]
			for j, v := range []float64{
				mo.Latency.P50 - bo.Latency.P50,
				mo.Latency.P99 - bo.Latency.P99,
				mo.Latency.P999 - bo.Latency.P999,
				(mo.VCPU - bo.VCPU) / (mo.TargetRate / 1000),
			} {
				open[i][j] = append(open[i][j], v)
			}
		}
	}, c.mode, c.base)
	cs.Throughput, cs.CPUPerRequest, cs.AddedVCPUPer1000 = statOf(tput), statOf(cpu), statOf(added)
	for i, rate := range s.Rates {
		o := open[i]
		cs.Open = append(cs.Open, openComparison{Rate: rate, AddedP50: statOf(o[0]), AddedP99: statOf(o[1]), AddedP999: statOf(o[2]), AddedVCPUPer1000: statOf(o[3])})
	}
	return cs
}
