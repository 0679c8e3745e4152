package devca_test

import (
	"context"
	"crypto"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/weftmesh/weft/security/devca"
)

// recorder is a slog.Handler that keeps the records it is given.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}

// warnings returns the messages of the Warn records containing sub.
func (r *recorder) warnings(sub string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		if rec.Level == slog.LevelWarn && strings.Contains(rec.Message, sub) {
			out = append(out, rec.Message)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func currentSVID(t *testing.T, s *devca.Source) *x509svid.SVID {
	t.Helper()
	svid, err := s.GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

func closeSource(t *testing.T, s *devca.Source) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSourceRenews(t *testing.T) {
	ca := newCA(t, td)
	logs := &recorder{}
	s, err := devca.NewSourceFromCA(ca, apiID, 2*time.Second, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer closeSource(t, s)

	first := currentSVID(t, s)
	if _, _, err := x509svid.Verify(first.Certificates, s); err != nil {
		t.Fatalf("first SVID: %v", err)
	}
	if n := s.Renewals(); n != 0 {
		t.Fatalf("Renewals() = %d before any renewal", n)
	}

	// Handshakes read the source while it renews.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				svid, _ := s.GetX509SVID()
				if _, err := s.GetX509BundleForTrustDomain(svid.ID.TrustDomain()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// A 2s SVID is renewed after about 1s.
	eventually(t, 10*time.Second, "renewal", func() bool { return s.Renewals() >= 1 })
	close(stop)
	wg.Wait()

	renewed := currentSVID(t, s)
	if renewed.Certificates[0].SerialNumber.Cmp(first.Certificates[0].SerialNumber) == 0 {
		t.Error("the renewed SVID has the first one's serial number")
	}
	if renewed.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(first.PrivateKey.Public()) {
		t.Error("the renewed SVID kept the first one's key")
	}
	id, _, err := x509svid.Verify(renewed.Certificates, s)
	if err != nil || id != apiID {
		t.Fatalf("renewed SVID: Verify = %v, %v", id, err)
	}
	if w := logs.warnings(""); len(w) != 1 || !strings.Contains(w[0], "DEVELOPMENT CA") {
		t.Errorf("warnings %q, want exactly the development CA one", w)
	}
}

func TestSourceCloseIsIdempotent(t *testing.T) {
	s, err := devca.NewSourceFromCA(newCA(t, td), apiID, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	svid := currentSVID(t, s)
	if life := time.Until(svid.Certificates[0].NotAfter); life < devca.DefaultTTL-time.Minute {
		t.Errorf("SVID of a zero ttl lives %v, want DefaultTTL", life)
	}
	for range 3 {
		closeSource(t, s)
	}
	if got := currentSVID(t, s); got != svid {
		t.Error("the SVID changed or went away after Close")
	}
	// Close from several goroutines at once.
	s, err = devca.NewSourceFromCA(newCA(t, td), apiID, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { closeSource(t, s) })
	}
	wg.Wait()
}

func TestSourceRetriesFailedRenewal(t *testing.T) {
	// A root that expires in about 2s: renewals succeed with ever shorter
	// SVIDs until the root expires, then fail.
	now := time.Now()
	ca, err := devca.NewValidity(td, now.Add(-time.Minute), now.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	logs := &recorder{}
	s, err := devca.NewSourceFromCA(ca, apiID, time.Hour, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer closeSource(t, s)
	eventually(t, 10*time.Second, "renewal failure warning", func() bool {
		return len(logs.warnings("renewing the SVID failed")) > 0
	})
	if svid := currentSVID(t, s); svid == nil || svid.ID != apiID {
		t.Fatalf("after a failed renewal GetX509SVID = %v", svid)
	}
	closeSource(t, s)
}

func TestSourceBundle(t *testing.T) {
	ca := newCA(t, td)
	s, err := devca.NewSourceFromCA(ca, apiID, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSource(t, s)
	b, err := s.GetX509BundleForTrustDomain(td)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Equal(ca.Bundle()) {
		t.Error("bundle is not the CA's")
	}
	_, err = s.GetX509BundleForTrustDomain(otherTD)
	wantErr(t, err, `"other.org"`, `trusts only "example.org"`)
}

func TestNewSourceFromConfig(t *testing.T) {
	dir := t.TempDir()
	ca := initCA(t, dir)
	logs := &recorder{}
	s, err := devca.NewSource(devca.Config{CA: dir, TTL: 10 * time.Minute}, apiID, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer closeSource(t, s)
	svid := currentSVID(t, s)
	if _, _, err := x509svid.Verify(svid.Certificates, ca.Bundle()); err != nil {
		t.Fatal(err)
	}
	if life := time.Until(svid.Certificates[0].NotAfter); life < 9*time.Minute || life > 11*time.Minute {
		t.Errorf("SVID lives %v, want 10m", life)
	}
	if w := logs.warnings("DEVELOPMENT CA"); len(w) != 1 {
		t.Errorf("got %d development CA warnings, want 1", len(w))
	}
}

func TestNewSourceErrors(t *testing.T) {
	dir := t.TempDir()
	ca := initCA(t, dir)
	foreign := spiffeid.RequireFromPath(otherTD, "/api")

	_, err := devca.NewSource(devca.Config{}, apiID, nil)
	wantErr(t, err, "dev.ca: required")
	_, err = devca.NewSource(devca.Config{CA: t.TempDir()}, apiID, nil)
	wantErr(t, err, "weft ca init")
	_, err = devca.NewSource(devca.Config{CA: dir}, foreign, nil)
	wantErr(t, err, "not in trust domain example.org")
	_, err = devca.NewSourceFromCA(nil, apiID, time.Hour, nil)
	wantErr(t, err, "nil CA")
	_, err = devca.NewSourceFromCA(ca, apiID, -time.Second, nil)
	wantErr(t, err, "must not be negative")
}
