package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every mode once, briefly and at a tiny rate, through the
// same code as the command (each side in a process of its own, HAProxy
// for the sidecar pair), and checks that what it reports holds together.
// The figures themselves are not judged: this machine may be busy.
func TestSmoke(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := &options{settings: settings{Reps: 1, Concurrency: 2, Rates: []float64{40}, warmup: 200 * time.Millisecond, duration: 500 * time.Millisecond}}
	haproxyMissing := ""
	for _, m := range modes {
		if m.sidecars {
			if _, err := findHAProxy(""); err != nil {
				if os.Getenv(envHAProxy) != "" {
					t.Fatalf("$%s: %v", envHAProxy, err)
				}
				haproxyMissing = err.Error()
				continue
			}
		}
		o.modes = append(o.modes, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, dir, err := runBench(ctx, o, exe, &progress)
	if dir != "" {
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("the processes' logs are in %s", dir)
				return
			}
			os.RemoveAll(dir)
		})
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())

	for _, r := range rep.Runs {
		m, _ := lookupMode(r.Mode)
		t.Run(r.Mode, func(t *testing.T) {
			if r.Error != "" {
				t.Fatalf("run failed: %s", r.Error)
			}
			roles := []string{"client", "server"}
			if m.sidecars {
				roles = append(roles, "haproxy-b", "haproxy-a")
				if !strings.Contains(r.Path, sidecarAMark) || !strings.Contains(r.Path, sidecarBMark) {
					t.Errorf("path %q: the request did not go through both sidecars over mutual TLS", r.Path)
				}
			}
			if strings.Contains(m.name, "mtls") && !strings.Contains(r.Path, "TLS 1.3") {
				t.Errorf("path %q: want TLS 1.3", r.Path)
			}
			checkPhase(t, "closed loop", *r.Closed, roles)
			if len(r.Open) != 1 {
				t.Fatalf("%d open-loop phases, want 1", len(r.Open))
			}
			open := r.Open[0]
			checkPhase(t, "open loop", open, roles)
			if want := int64(o.Rates[0] * o.duration.Seconds()); open.Requests != want {
				t.Errorf("open loop answered %d requests, want the %d it scheduled", open.Requests, want)
			}
			if open.Concurrency != o.Concurrency {
				t.Errorf("open loop had %d workers, want %d", open.Concurrency, o.Concurrency)
			}
		})
	}
	if haproxyMissing != "" {
		t.Run("haproxy-pair", func(t *testing.T) { t.Skipf("HAProxy could not be installed: %s", haproxyMissing) })
	}

	t.Run("summary", func(t *testing.T) {
		if got, want := len(rep.Summary.Modes), len(o.modes); got != want {
			t.Fatalf("%d modes summarised, want %d", got, want)
		}
		names := make([]string, len(o.modes))
		for i, m := range o.modes {
			names[i] = m.name
		}
		for _, c := range comparisons(names) {
			cs := rep.comparison(c.mode, c.base)
			if cs == nil || !cs.Throughput.ok() || cs.Throughput.Median <= 0 || !cs.CPUPerRequest.ok() || len(cs.Open) != 1 || !cs.Open[0].AddedP50.ok() {
				t.Errorf("%s against %s: %+v, want every ratio and difference", c.mode, c.base, cs)
			}
		}
		if haproxyMissing == "" && (rep.Summary.Sidecar == nil || rep.Summary.Sidecar.Share.Median <= 0) {
			t.Errorf("sidecar lead %+v, want it measured", rep.Summary.Sidecar)
		}
	})

	t.Run("outputs", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "bench")
		doc := filepath.Join(t.TempDir(), "BENCHMARKS.md")
		if err := os.WriteFile(doc, []byte("# Benchmarks\n\nbefore\n"+docBegin+"\nold figures\n"+docEnd+"\nafter\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := writeOutputs(rep, out, doc); err != nil {
			t.Fatal(err)
		}
		var back report
		if err := readJSON(filepath.Join(out, jsonFile), &back); err != nil {
			t.Fatalf("%s: %v", jsonFile, err)
		}
		if len(back.Runs) != len(rep.Runs) || back.Machine.Cores == 0 {
			t.Errorf("%s holds %d runs and machine %+v, want %d runs and the machine", jsonFile, len(back.Runs), back.Machine, len(rep.Runs))
		}
		svg, err := os.ReadFile(filepath.Join(out, chartFile))
		if err != nil {
			t.Fatal(err)
		}
		checkXML(t, svg)
		md, err := os.ReadFile(filepath.Join(out, markdownFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range o.modes {
			if !bytes.Contains(svg, []byte(m.title)) {
				t.Errorf("the chart does not show %s", m.title)
			}
			if !bytes.Contains(md, []byte("| "+m.title+" | ")) {
				t.Errorf("the tables do not show %s", m.title)
			}
		}
		// The JSON holds all the outputs are drawn from.
		again := filepath.Join(t.TempDir(), "again")
		var stdout, stderr bytes.Buffer
		if code := run([]string{"-from", filepath.Join(out, jsonFile), "-out", again}, &stdout, &stderr); code != exitOK {
			t.Fatalf("-from: exit %d: %s", code, stderr.String())
		}
		for _, f := range []string{chartFile, markdownFile} {
			a, err1 := os.ReadFile(filepath.Join(out, f))
			b, err2 := os.ReadFile(filepath.Join(again, f))
			if err := errors.Join(err1, err2); err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s drawn again from %s differs (%v)", f, jsonFile, err)
			}
		}
		got, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Dir(doc), filepath.Join(out, chartFile))
		if !bytes.HasPrefix(got, []byte("# Benchmarks\n\nbefore\n"+docBegin+"\n")) || !bytes.HasSuffix(got, []byte(docEnd+"\nafter\n")) ||
			bytes.Contains(got, []byte("old figures")) || !bytes.Contains(got, []byte("]("+filepath.ToSlash(rel)+")")) {
			t.Errorf("the document's section was not rewritten in place with the chart at %s:\n%s", rel, got)
		}
	})
}

func checkPhase(t *testing.T, name string, p phase, roles []string) {
	t.Helper()
	if p.Requests == 0 || p.Throughput <= 0 || p.Errors != 0 {
		t.Errorf("%s: %d requests (%.1f/s), %d errors (%s); want some, and no errors", name, p.Requests, p.Throughput, p.Errors, p.FirstError)
	}
	l := p.Latency
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("%s: percentiles %+v are not positive and ordered", name, l)
	}
	if len(p.CPU) != len(roles) {
		t.Fatalf("%s: CPU of %+v, want of %v", name, p.CPU, roles)
	}
	for i, c := range p.CPU {
		if c.Role != roles[i] || c.PID <= 0 || c.Seconds < 0 {
			t.Errorf("%s: CPU %+v, want %s's, with its PID", name, c, roles[i])
		}
	}
	// /proc counts whole 10 ms ticks: at a tiny rate an open loop may
	// show none, but a closed loop runs flat out, its load generator
	// above all.
	if p.Kind == "closed" && (p.CPUSeconds <= 0 || p.CPUPerRequestUS <= 0 || p.CPU[0].Seconds <= 0 || p.VCPU <= 0) {
		t.Errorf("%s: CPU %+v (%.3f s, %.1f µs per request), want it measured", name, p.CPU, p.CPUSeconds, p.CPUPerRequestUS)
	}
}

func checkXML(t *testing.T, data []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v", err)
		}
	}
}
