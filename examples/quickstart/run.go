package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/weftmesh/weft/internal/policy"
	"github.com/weftmesh/weft/security/devca"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/weftmesh/weft/discovery"
)

//go:embed mesh.yaml
var embeddedPolicy []byte

// trustDomain and devCADir are what mesh.yaml says about identities: the
// trust domain, and the development CA's directory, next to the policy.
const (
	trustDomain = "shop.local"
	devCADir    = "weft-dev-ca"
)

// gossipKeyEnv is the variable mesh.yaml reads the gossip key from.
const gossipKeyEnv = "WEFT_GOSSIP_KEY"

// minSuccessRate is the end-to-end success rate, in percent, below which
// the run counts as failed.
const minSuccessRate = 95

// options configure a run.
type options struct {
	// Duration is how long to run; 0 runs until ctx ends.
	Duration time.Duration
	// Rate is the requests per second sent to frontend. If zero, 200.
	Rate int
	// PolicyFile is the policy every node loads and watches. If empty,
	// the embedded mesh.yaml, written to a temporary directory.
	PolicyFile string
	// AdminAddr is the loadgen node's admin endpoint; "" for none.
	AdminAddr string
	// Logs receives the nodes' logs at LogLevel and above. If nil, they
	// are discarded.
	Logs     io.Writer
	LogLevel slog.Level
	// Redraw redraws the table in place (for terminals) instead of
	// printing one table after the other.
	Redraw bool
}

const (
	defaultRate    = 200
	loadgenWorkers = 16
	frameInterval  = time.Second
	startTimeout   = 30 * time.Second
	stopTimeout    = 15 * time.Second
	// untilInterrupted is when the midpoint events happen in a run
	// without a duration.
	untilInterrupted = 10 * time.Second
)

// run starts the shop, drives load through it until opts.Duration has
// passed or ctx ends, stops two instances midway, shuts everything down
// and prints a summary. It returns an error if the shop could not start or
// stop cleanly, or too few requests succeeded.
func run(ctx context.Context, opts options, stdout io.Writer) error {
	if opts.Rate == 0 {
		opts.Rate = defaultRate
	}
	if opts.Rate < 0 || opts.Rate > 10000 {
		return fmt.Errorf("rate %d: want 1 to 10000 requests per second", opts.Rate)
	}
	if opts.Duration < 0 {
		return fmt.Errorf("duration %v is negative", opts.Duration)
	}
	if opts.Logs == nil {
		opts.Logs = io.Discard
	}
	scr := newScreen(stdout, opts.Redraw)
	if opts.Redraw && opts.Logs != io.Discard {
		// Lines written to the terminal between frames would scroll the
		// table away: with redraw, the latest log lines are shown under
		// it instead, and all of them once the run ends.
		opts.Logs = scr.logSink(opts.Logs)
		defer scr.flushLogs()
	}

	keyNote, err := ensureGossipKey()
	if err != nil {
		return err
	}
	policyFile := opts.PolicyFile
	madeCA := "" // a development CA made for a -policy that names a missing one
	if policyFile == "" {
		dir, err := os.MkdirTemp("", "weft-quickstart-")
		if err != nil {
			return fmt.Errorf("write the policy: %w", err)
		}
		defer os.RemoveAll(dir)
		policyFile = filepath.Join(dir, "mesh.yaml")
		if err := os.WriteFile(policyFile, embeddedPolicy, 0o600); err != nil {
			return fmt.Errorf("write the policy: %w", err)
		}
		if _, err := devca.Init(filepath.Join(dir, devCADir), spiffeid.RequireTrustDomainFromString(trustDomain)); err != nil {
			return fmt.Errorf("make a development CA: %w", err)
		}
	} else if madeCA, err = ensureDevCA(policyFile); err != nil {
		return err
	}

	scr.printf("Weft quickstart: a shop of %d service instances and a load generator, each its own mesh node on 127.0.0.1.", len(topology()))
	scr.printf("  policy      %s (watched: edits apply live)", policyFile)
	if opts.PolicyFile == "" {
		scr.printf("  gossip      encrypted with the key in $%s, %s", gossipKeyEnv, keyNote)
		scr.printf("  identity    mutual TLS between all nodes, SVIDs spiffe://%s/svc/<service> from a temporary development CA", trustDomain)
	}
	if madeCA != "" {
		scr.printf("  identity    made a development CA in %s, which the policy names", madeCA)
	}
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	started := time.Now()
	s, err := startShop(startCtx, shopConfig{
		policyFile: policyFile,
		adminAddr:  opts.AdminAddr,
		logger:     nodeLogger(opts),
	})
	cancel()
	if err != nil {
		return err
	}
	scr.printf("  started     %d nodes in %v, all joined through %s", len(s.instances)+1, time.Since(started).Round(time.Millisecond), s.loadgen.GossipAddr())
	if opts.AdminAddr != "" {
		scr.printf("  dashboard   http://%s/ui/   (the whole mesh, live; or: go run ./cmd/weft dashboard %s)", opts.AdminAddr, opts.AdminAddr)
		scr.printf("  admin       curl http://%s/debug/weft   (the loadgen node's view of the mesh)", opts.AdminAddr)
	}
	if opts.Duration > 0 {
		scr.printf("  running     %v, %d req/s to %s", opts.Duration, opts.Rate, loadgenURL)
	} else {
		scr.printf("  running     until Ctrl-C, %d req/s to %s", opts.Rate, loadgenURL)
	}
	scr.printf("")

	d := newDrill(s, scr)
	err = drive(ctx, opts, s, scr, d)
	if c, ok := s.connections(); ok {
		scr.printf("Connections accepted by the shop's servers: %d mutual TLS, %d plaintext, %d refused.", c.TLS, c.Plaintext, c.Refused)
	}

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	stopped := time.Now()
	if serr := s.shutdown(stopCtx); serr != nil {
		err = errors.Join(err, serr)
	} else {
		scr.printf("All nodes shut down gracefully in %v.", time.Since(stopped).Round(time.Millisecond))
	}
	return err
}

// drive runs the load and the live table until the run ends, with the
// drill at its midpoint, then prints the summary.
func drive(ctx context.Context, opts options, s *shop, scr *screen, d *drill) error {
	gen := &loadgen{client: s.loadgen.NewClient("frontend"), rate: opts.Rate, workers: loadgenWorkers}
	genCtx, stopGen := context.WithCancel(ctx)
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		gen.run(genCtx)
	}()
	defer func() { stopGen(); <-genDone }()

	drillCtx, stopDrill := context.WithCancel(ctx)
	var drills sync.WaitGroup
	defer func() { stopDrill(); drills.Wait() }()

	midpoint, end := untilInterrupted, (<-chan time.Time)(nil)
	if opts.Duration > 0 {
		midpoint = opts.Duration / 2
		t := time.NewTimer(opts.Duration)
		defer t.Stop()
		end = t.C
	}
	mid := time.NewTimer(midpoint)
	defer mid.Stop()
	tick := time.NewTicker(frameInterval)
	defer tick.Stop()

	start := time.Now()
	scr.restartClock()
	t := &tabulator{shop: s, gen: gen, last: start}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			scr.event("interrupted: stopping")
			done = true
		case <-end:
			done = true
		case <-mid.C:
			drills.Go(func() { d.run(drillCtx) })
		case <-tick.C:
			t.frame(scr)
		}
	}
	elapsed := time.Since(start)
	stopGen()
	<-genDone
	stopDrill()
	drills.Wait()
	if time.Since(t.last) >= frameInterval/4 {
		// A last frame for the requests since the previous one, unless
		// that was so recent that its rates would be noise.
		t.frame(scr)
	}

	final := gen.stats.snapshot()
	if opts.Redraw {
		scr.printf("") // plain frames already end with a blank line
	}
	scr.printf("%s", summary(elapsed, final, gen.lastError(), s, d))
	switch {
	case final.Total == 0:
		return errors.New("no request was sent: the run ended before the load started")
	case final.SuccessRate() < minSuccessRate:
		return fmt.Errorf("only %.2f%% of the requests succeeded, below %d%%: last error: %s", final.SuccessRate(), minSuccessRate, gen.lastError())
	}
	return nil
}

// tabulator turns the counters into table rows, one frame at a time.
type tabulator struct {
	shop *shop
	gen  *loadgen
	last time.Time // of the previous frame
}

func (t *tabulator) frame(scr *screen) {
	now := time.Now()
	period := now.Sub(t.last).Seconds()
	t.last = now
	states := t.shop.states()
	rows := make([]row, 0, len(t.shop.instances))
	for _, in := range t.shop.instances {
		snap := in.stats.snapshot()
		rows = append(rows, row{
			instance: in.label,
			version:  in.version,
			node:     strings.TrimPrefix(in.node.Name(), in.service+"-"),
			addr:     in.addr,
			state:    states[in.node.Name()],
			rate:     float64(snap.Recent) / period,
			snap:     snap,
		})
	}
	gen := t.gen.stats.snapshot()
	scr.frame(rows, gen, float64(gen.Recent)/period, t.gen.skipped.Load())
}

// states returns the state of every serving node as the loadgen node sees
// it: its catalog state while listed, else "dead" or "left" as its gossip
// says, else "gone".
func (s *shop) states() map[string]string {
	out := make(map[string]string)
	for _, m := range s.loadgen.Status().Members {
		if m.Status != discovery.StatusAlive {
			out[m.Name] = m.Status.String()
		}
	}
	for _, in := range s.instances {
		name := in.node.Name()
		for _, e := range s.loadgen.Catalog().Instances(in.service) {
			if e.Node == name {
				out[name] = e.State.String()
			}
		}
		if out[name] == "" {
			out[name] = "gone"
		}
	}
	return out
}

// ensureGossipKey makes sure the variable mesh.yaml reads the gossip key
// from is set, generating a random AES-256 key if it is not, and says
// which.
func ensureGossipKey() (string, error) {
	if os.Getenv(gossipKeyEnv) != "" {
		return "taken from the environment", nil
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.Setenv(gossipKeyEnv, base64.StdEncoding.EncodeToString(key)); err != nil {
		return "", fmt.Errorf("set $%s: %w", gossipKeyEnv, err)
	}
	return "unset, so a random AES-256 key was made for this run", nil
}

// nodeLogger returns the logger of the shop's nodes. With the embedded
// policy, the header already says once that identities come from a
// temporary development CA; each node's own warning about it would say it
// ten times more, so those are left out.
func nodeLogger(opts options) *slog.Logger {
	h := slog.Handler(slog.NewTextHandler(opts.Logs, &slog.HandlerOptions{Level: opts.LogLevel}))
	if opts.PolicyFile == "" {
		h = withoutDevCAWarning{h}
	}
	return slog.New(h)
}

type withoutDevCAWarning struct{ slog.Handler }

func (h withoutDevCAWarning) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "devca: ") && r.Level == slog.LevelWarn && strings.Contains(r.Message, "DEVELOPMENT CA") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h withoutDevCAWarning) WithAttrs(as []slog.Attr) slog.Handler {
	return withoutDevCAWarning{h.Handler.WithAttrs(as)}
}

func (h withoutDevCAWarning) WithGroup(name string) slog.Handler {
	return withoutDevCAWarning{h.Handler.WithGroup(name)}
}

// ensureDevCA makes the development CA a policy's dev identity names when
// its directory has none yet, so that a copy of mesh.yaml runs as the
// embedded one does. It returns the directory it made a CA in, or "".
func ensureDevCA(policyFile string) (string, error) {
	p, err := policy.Load(policyFile)
	if err != nil || p.Security.Identity.Dev == nil {
		return "", nil // a broken policy is reported when the nodes load it
	}
	dir := p.Security.Identity.Dev.CA
	if _, err := os.Stat(filepath.Join(dir, devca.CertFile)); !errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	td, err := spiffeid.TrustDomainFromString(p.Mesh.TrustDomain)
	if err != nil {
		return "", fmt.Errorf("policy %s: mesh.trustDomain: %w", policyFile, err)
	}
	if _, err := devca.Init(dir, td); err != nil {
		return "", fmt.Errorf("make a development CA: %w", err)
	}
	return dir, nil
}
