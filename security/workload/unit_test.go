package workload

import (
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/internal/clocktest"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		socket string
		bad    string // a part of the message, or "" when valid
	}{
		{"", ""},
		{"unix:///run/spire/agent.sock", ""},
		{"unix:/run/spire/agent.sock", ""},
		{"tcp://127.0.0.1:8081", ""},
		{"tcp://[::1]:8081", ""},
		{"unix://run/spire/agent.sock", "absolute path"},
		{"unix:run/agent.sock", "invalid Workload API address"},
		{"unix://", "invalid Workload API address"},
		{"unix:///run/agent.sock?x=1", "invalid Workload API address"},
		{"tcp://localhost:8081", "IP:port"},
		{"tcp://127.0.0.1", "port"},
		{"tcp://127.0.0.1:8081/path", "path"},
		{"/run/spire/agent.sock", "invalid Workload API address"},
		{"http://127.0.0.1:8081", "invalid Workload API address"},
		{"::", "invalid Workload API address"},
	} {
		err := Config{Socket: tc.socket}.Validate()
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("Validate(%q) = %v, want nil", tc.socket, err)
		case tc.bad != "" && err == nil:
			t.Errorf("Validate(%q) = nil, want an error about %q", tc.socket, tc.bad)
		case tc.bad != "":
			if msg := err.Error(); !strings.HasPrefix(msg, "spiffe.socket: ") || !strings.Contains(msg, tc.bad) || !strings.Contains(msg, "unix:///path/to/agent.sock or tcp://IP:port") {
				t.Errorf("Validate(%q) = %q, want spiffe.socket: ... %q ... and the accepted forms", tc.socket, msg, tc.bad)
			}
		}
	}
}

func FuzzCheckAddress(f *testing.F) {
	for _, s := range []string{"unix:///run/agent.sock", "tcp://127.0.0.1:1", "unix://host/x", "tcp://[::1]:80", "unix:x", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		if checkAddress(addr) != "" {
			return
		}
		if _, err := workloadapi.TargetFromAddress(addr); err != nil {
			t.Fatalf("checkAddress accepted %q, which the client refuses: %v", addr, err)
		}
	})
}

func TestExplainWatchError(t *testing.T) {
	const addr = "unix:///run/agent.sock"
	for _, tc := range []struct {
		err  error
		kind error
		msg  string
	}{
		{status.Error(codes.PermissionDenied, "no identity issued"), ErrNoEntry, "has no registration entry for this workload"},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix /run/agent.sock: connect: no such file or directory"`), ErrUnreachable, "no Workload API at " + addr},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), ErrUnreachable, "is the SPIRE agent running"},
		{status.Error(codes.Internal, "boom"), nil, "the Workload API at " + addr + " failed"},
	} {
		p := explainWatchError(addr, idA, tc.err)
		if p.kind != tc.kind || !strings.Contains(p.msg, tc.msg) || p.cause != tc.err {
			t.Errorf("explainWatchError(%v) = %+v, want kind %v and %q", tc.err, p, tc.kind, tc.msg)
		}
	}
}

func TestWarnLimiter(t *testing.T) {
	clock := clocktest.New(time.Unix(1000, 0))
	var l warnLimiter
	steps := []struct {
		advance time.Duration
		msg     string
		want    bool
	}{
		{0, "a", true},
		{time.Second, "a", false},
		{time.Second, "b", true},
		{time.Second, "a", true},
		{warnEvery - time.Second, "a", false},
		{time.Second, "a", true},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if got := l.allow(s.msg, clock.Now()); got != s.want {
			t.Errorf("step %d (%q): allow = %v, want %v", i, s.msg, got, s.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := backoffStrategy{}.NewBackoff()
	var got []time.Duration
	for range 7 {
		got = append(got, b.Next())
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff = %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != minRetry {
		t.Errorf("after Reset, Next = %v, want %v", d, minRetry)
	}
}

// TestExpiredSVID: the last SVID is served until it expires, then the
// error says that renewal failed and why.
func TestExpiredSVID(t *testing.T) {
	clock := clocktest.New(time.Unix(1000, 0))
	leaf := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: clock.Now().Add(-time.Minute), NotAfter: clock.Now().Add(time.Minute)}
	s := &Source{addr: "unix:///run/agent.sock", want: idA, now: clock.Now}
	s.snap.Store(&snapshot{svid: &x509svid.SVID{ID: idA, Certificates: []*x509.Certificate{leaf}}})
	s.setLast(explainWatchError(s.addr, idA, status.Error(codes.Unavailable, "agent gone")))

	if _, err := s.GetX509SVID(); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.Advance(2 * time.Minute)
	_, err := s.GetX509SVID()
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "is the SPIRE agent running") {
		t.Fatalf("after expiry: %v, want the expiry and the last problem", err)
	}
}

func TestNotIssuedNamesAFew(t *testing.T) {
	var issued []spiffeid.ID
	for i := range 20 {
		issued = append(issued, spiffeid.RequireFromPathf(td, "/svc/%d", i))
	}
	p := notIssued("unix:///a.sock", idNoEntry, issued)
	if !strings.Contains(p.msg, "spiffe://example.org/svc/7, 12 more but not "+idNoEntry.String()) || strings.Contains(p.msg, "/svc/8") {
		t.Errorf("message = %q, want the first 8 IDs and a count of the rest", p.msg)
	}
	if p.kind != ErrNoEntry {
		t.Errorf("kind = %v, want ErrNoEntry", p.kind)
	}
}
