package files

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

var exampleTD = spiffeid.RequireTrustDomainFromString("example.org")

// logs records what a Source logs.
type logs struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// count returns how many records at level have an attribute key whose
// value contains sub ("" matches any record at level).
func (l *logs) count(level slog.Level, key, sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.Level != level {
			continue
		}
		match := key == ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key && strings.Contains(a.Value.String(), sub) {
				match = true
			}
			return true
		})
		if match {
			n++
		}
	}
	return n
}

// start writes a full set of files for leaf and roots and opens a Source on
// them, closed when the test ends.
func start(t *testing.T, leaf svid, roots ...*testCA) (*Source, Config, *logs) {
	t.Helper()
	cfg := paths(t)
	writeAll(t, cfg, leaf, roots...)
	l := &logs{}
	s, err := New(cfg, slog.New(l))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg, l
}

func waitServed(t *testing.T, s *Source, want svid) {
	t.Helper()
	eventually(t, "the new SVID to be served", func() bool {
		return servedSerial(t, s).Cmp(want.cert.SerialNumber) == 0
	})
	got, _ := s.GetX509SVID()
	if !want.key.PublicKey.Equal(got.PrivateKey.Public()) {
		t.Fatal("served key does not belong to the served certificate")
	}
}

func TestRotation(t *testing.T) {
	ca := newCA(t, "root")
	s, cfg, logs := start(t, ca.leaf(t), ca)

	next := ca.leaf(t)
	writeAtomic(t, cfg.Key, next.keyPEM)
	writeAtomic(t, cfg.Cert, next.certPEM)
	waitServed(t, s, next)
	if st := s.Stats(); st.Reloads != 1 || st.LastError != "" {
		t.Errorf("Stats = %+v, want one reload and no current error", st)
	}
	if n := logs.count(slog.LevelInfo, "serial", serial(next.cert)); n != 1 {
		t.Errorf("%d info logs name the new serial, want 1", n)
	}

	// The served files are not reloaded again.
	waitPolls(t, s, 3)
	if st := s.Stats(); st.Reloads != 1 {
		t.Errorf("Reloads = %d after the files settled, want 1", st.Reloads)
	}
}

// TestRotationSymlinkSwap rotates the way a Kubernetes secret volume does:
// the paths are symlinks through a directory link that is swapped at once.
func TestRotationSymlinkSwap(t *testing.T) {
	ca := newCA(t, "root")
	dir := t.TempDir()
	gen := func(n int, s svid) {
		d := filepath.Join(dir, fmt.Sprintf("gen%d", n))
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, "tls.crt"), s.certPEM)
		writeFile(t, filepath.Join(d, "tls.key"), s.keyPEM)
		writeFile(t, filepath.Join(d, "ca.crt"), bundlePEM(ca))
		tmp := filepath.Join(dir, "..data.tmp")
		if err := os.Symlink(d, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	first := ca.leaf(t)
	gen(1, first)
	cfg := Config{Interval: 20 * time.Millisecond}
	for _, f := range []struct {
		dst  *string
		name string
	}{{&cfg.Cert, "tls.crt"}, {&cfg.Key, "tls.key"}, {&cfg.Bundle, "ca.crt"}} {
		*f.dst = filepath.Join(dir, f.name)
		if err := os.Symlink(filepath.Join("..data", f.name), *f.dst); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	next := ca.leaf(t)
	gen(2, next)
	waitServed(t, s, next)
}

func TestPartialRotation(t *testing.T) {
	ca := newCA(t, "root")
	old := ca.leaf(t)
	s, cfg, logs := start(t, old, ca)

	next := ca.leaf(t)
	writeFile(t, cfg.Cert, next.certPEM)
	eventually(t, "the mismatched key to be reported", func() bool {
		return strings.Contains(s.Stats().LastError, "does not match")
	})
	if got := servedSerial(t, s); got.Cmp(old.cert.SerialNumber) != 0 {
		t.Fatalf("served serial %x during a partial rotation, want the old %x", got, old.cert.SerialNumber)
	}
	// A plain write may be seen empty first, so one or two distinct
	// broken states; each is counted and logged once, however many polls
	// see it.
	errs := s.Stats().Errors
	if errs < 1 || errs > 2 {
		t.Errorf("Errors = %d, want 1 or 2", errs)
	}
	waitPolls(t, s, 5)
	if st := s.Stats(); st.Errors != errs || st.Reloads != 0 {
		t.Errorf("Stats = %+v after more polls of the same files, want Errors %d and no reload", st, errs)
	}
	if n := logs.count(slog.LevelWarn, "", ""); uint64(n) != errs {
		t.Errorf("%d warnings for %d broken states", n, errs)
	}
	if n := logs.count(slog.LevelWarn, "error", "does not match"); n != 1 {
		t.Errorf("%d warnings name the key mismatch, want 1", n)
	}

	writeFile(t, cfg.Key, next.keyPEM)
	waitServed(t, s, next)
	if st := s.Stats(); st.Reloads != 1 || st.LastError != "" {
		t.Errorf("Stats = %+v after the rotation completed, want one reload and no current error", st)
	}
}

func TestRemovedFileKeepsServing(t *testing.T) {
	ca := newCA(t, "root")
	leaf := ca.leaf(t)
	s, cfg, logs := start(t, leaf, ca)

	if err := os.Remove(cfg.Key); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the missing key to be reported", func() bool { return s.Stats().Errors == 1 })
	if st := s.Stats(); !strings.Contains(st.LastError, cfg.Key) || !strings.Contains(st.LastError, "no such file") {
		t.Errorf("LastError = %q, want the key path and the os error", st.LastError)
	}
	waitPolls(t, s, 5)
	if n := logs.count(slog.LevelWarn, "", ""); n != 1 {
		t.Errorf("%d warnings for one broken state, want 1", n)
	}
	if got := servedSerial(t, s); got.Cmp(leaf.cert.SerialNumber) != 0 {
		t.Fatal("the SVID changed while the key was missing")
	}

	// Restoring the same key is no reload, but clears the error.
	writeFile(t, cfg.Key, leaf.keyPEM)
	eventually(t, "the error to clear", func() bool { return s.Stats().LastError == "" })
	if st := s.Stats(); st.Reloads != 0 || st.Errors != 1 {
		t.Errorf("Stats = %+v, want no reload and one error", st)
	}
}

func TestTouchDoesNotReload(t *testing.T) {
	ca := newCA(t, "root")
	leaf := ca.leaf(t)
	s, cfg, _ := start(t, leaf, ca)

	later := time.Now().Add(time.Minute)
	for _, p := range []string{cfg.Cert, cfg.Key, cfg.Bundle} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	writeAtomic(t, cfg.Cert, leaf.certPEM) // same bytes, new inode
	waitPolls(t, s, 5)
	if st := s.Stats(); st != (Stats{}) {
		t.Errorf("Stats = %+v after touching the files, want zero", st)
	}
}

// TestSameSizeAndMtime rewrites the files with a new SVID of the same size
// and puts the old mtimes back, as a second write within one timestamp
// tick would leave them: the change must be found by content.
func TestSameSizeAndMtime(t *testing.T) {
	ca := newCA(t, "root")
	pad := func(b []byte) []byte { return append(b, strings.Repeat("\n", 2048-len(b))...) }
	old := ca.leaf(t)
	old.certPEM, old.keyPEM = pad(old.certPEM), pad(old.keyPEM)
	s, cfg, _ := start(t, old, ca)
	var mtimes []time.Time
	for _, p := range []string{cfg.Cert, cfg.Key} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		mtimes = append(mtimes, fi.ModTime())
	}

	next := ca.leaf(t)
	next.certPEM, next.keyPEM = pad(next.certPEM), pad(next.keyPEM)
	writeFile(t, cfg.Key, next.keyPEM)
	writeFile(t, cfg.Cert, next.certPEM)
	for i, p := range []string{cfg.Cert, cfg.Key} {
		if err := os.Chtimes(p, mtimes[i], mtimes[i]); err != nil {
			t.Fatal(err)
		}
	}
	waitServed(t, s, next)
}

func TestNotYetValidBecomesValid(t *testing.T) {
	ca := newCA(t, "root")
	s, cfg, logs := start(t, ca.leaf(t), ca)

	// Certificates carry whole seconds; this one becomes valid in one to
	// two seconds.
	next := ca.leaf(t, withNotBefore(time.Now().Truncate(time.Second).Add(2*time.Second)))
	writeAtomic(t, cfg.Key, next.keyPEM)
	writeAtomic(t, cfg.Cert, next.certPEM)
	eventually(t, "the early certificate to be reported", func() bool {
		return strings.Contains(s.Stats().LastError, "is not valid before")
	})
	// No further write: the watcher retries the same files until they pass.
	waitServed(t, s, next)
	if n := logs.count(slog.LevelWarn, "error", "is not valid before"); n != 1 {
		t.Errorf("%d warnings for the early certificate, want 1", n)
	}
}

func TestCARollover(t *testing.T) {
	oldCA, newCA := newCA(t, "old root"), newCA(t, "new root")
	s, cfg, _ := start(t, oldCA.leaf(t), oldCA, newCA)

	b, err := s.GetX509BundleForTrustDomain(exampleTD)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.X509Authorities()); n != 2 {
		t.Fatalf("bundle has %d authorities, want both roots", n)
	}
	// Peers holding an SVID from either CA verify during the rollover.
	for _, ca := range []*testCA{oldCA, newCA} {
		if _, _, err := x509svid.Verify([]*x509.Certificate{ca.leaf(t).cert}, b); err != nil {
			t.Errorf("SVID from %s does not verify against the rollover bundle: %v", ca.cert.Subject.CommonName, err)
		}
	}

	// The node moves to the new CA, then the old root is retired.
	next := newCA.leaf(t)
	writeAtomic(t, cfg.Key, next.keyPEM)
	writeAtomic(t, cfg.Cert, next.certPEM)
	waitServed(t, s, next)
	writeAtomic(t, cfg.Bundle, bundlePEM(newCA))
	eventually(t, "the retired root to leave the bundle", func() bool {
		b, err := s.GetX509BundleForTrustDomain(exampleTD)
		return err == nil && len(b.X509Authorities()) == 1
	})
	b, _ = s.GetX509BundleForTrustDomain(exampleTD)
	if _, _, err := x509svid.Verify([]*x509.Certificate{oldCA.leaf(t).cert}, b); err == nil {
		t.Error("an SVID from the retired root still verifies")
	}
	if _, _, err := x509svid.Verify([]*x509.Certificate{newCA.leaf(t).cert}, b); err != nil {
		t.Errorf("an SVID from the new root does not verify: %v", err)
	}

	// A bundle that no longer holds the SVID's CA is refused.
	writeAtomic(t, cfg.Bundle, bundlePEM(oldCA))
	eventually(t, "the bundle without the SVID's CA to be refused", func() bool {
		return strings.Contains(s.Stats().LastError, "does not chain")
	})
	if b, _ := s.GetX509BundleForTrustDomain(exampleTD); !b.HasX509Authority(newCA.cert) {
		t.Error("the refused bundle replaced the served one")
	}
}

func TestForeignTrustDomain(t *testing.T) {
	ca := newCA(t, "root")
	s, cfg, _ := start(t, ca.leaf(t), ca)
	_, err := s.GetX509BundleForTrustDomain(spiffeid.RequireTrustDomainFromString("other.org"))
	wantErr(t, err, `"other.org"`, `"example.org"`, cfg.Bundle)
}

func TestClose(t *testing.T) {
	ca := newCA(t, "root")
	leaf := ca.leaf(t)
	s, cfg, _ := start(t, leaf, ca)
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d = %v", i+1, err)
		}
	}
	select {
	case <-s.done:
	default:
		t.Fatal("the watcher is still running after Close")
	}
	// The last SVID stays readable.
	writeAll(t, cfg, ca.leaf(t), ca)
	if got := servedSerial(t, s); got.Cmp(leaf.cert.SerialNumber) != 0 {
		t.Error("the SVID changed after Close")
	}
}

// TestConcurrentReads reads while the files rotate: every SVID read must be
// whole (its key matches its leaf) and verify against a bundle read after
// it.
func TestConcurrentReads(t *testing.T) {
	ca := newCA(t, "root")
	s, cfg, _ := start(t, ca.leaf(t), ca)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := s.GetX509SVID()
				if err != nil {
					errs <- err
					return
				}
				if !got.PrivateKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(got.Certificates[0].PublicKey) {
					errs <- fmt.Errorf("served key does not match served certificate %x", got.Certificates[0].SerialNumber)
					return
				}
				b, err := s.GetX509BundleForTrustDomain(got.ID.TrustDomain())
				if err != nil {
					errs <- err
					return
				}
				if _, _, err := x509svid.Verify(got.Certificates, b); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 5 {
		next := ca.leaf(t)
		writeFile(t, cfg.Key, next.keyPEM)
		writeFile(t, cfg.Cert, next.certPEM)
		waitServed(t, s, next)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := s.Stats(); st.Reloads != 5 {
		t.Errorf("Reloads = %d, want 5", st.Reloads)
	}
}
