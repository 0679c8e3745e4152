package jwtauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/weftmesh/weft/internal/race"
	"github.com/weftmesh/weft/security/jwtauth"
)

// setUpBench returns an authenticator and a valid token for it.
func setUpBench(b testing.TB, s signer) (*jwtauth.Authenticator, http.Header) {
	clk := newClock()
	cfg := fileConfig(writeKeySet(b, s))
	cfg.LogClaims = []string{"sub"}
	a := mustNew(b, cfg, jwtauth.Options{Now: clk.Now})
	h := bearer(s.Sign(b, claimsAt(clk.Now())))
	if res := a.AuthenticateHTTP(context.Background(), h); res.Err != nil {
		b.Fatal(res.Err)
	}
	return a, h
}

// BenchmarkAuthenticate measures a request whose token was seen before:
// the cost every request but a token's first pays.
func BenchmarkAuthenticate(b *testing.B) {
	a, h := setUpBench(b, newRSASigner(b, 0, "k1"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := a.AuthenticateHTTP(ctx, h); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkVerifyUncached measures a token's first request: the signature
// check and claim parsing, by algorithm.
func BenchmarkVerifyUncached(b *testing.B) {
	for _, s := range []signer{newRSASigner(b, 0, "k1"), newECSigner(b, "e1")} {
		b.Run(string(s.Alg), func(b *testing.B) {
			clk := newClock()
			a := mustNew(b, fileConfig(writeKeySet(b, s)), jwtauth.Options{Now: clk.Now})
			tokens := make([]string, 512)
			for i := range tokens {
				tokens[i] = s.Sign(b, with(claimsAt(clk.Now()), "jti", i))
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// The cache would answer a second time: use each token once
				// per authenticator, starting over with a fresh one.
				if i == len(tokens) {
					b.StopTimer()
					a = mustNew(b, fileConfig(writeKeySet(b, s)), jwtauth.Options{Now: clk.Now})
					i = 0
					b.StartTimer()
				}
				if _, err := a.Verify(context.Background(), tokens[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// TestCachedAuthenticationAllocations guards the allocation count of a
// request whose token was verified before: the count measured when the
// limit was set, the token's digest input.
func TestCachedAuthenticationAllocations(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector changes allocation counts; scripts/test runs this test without it")
	}
	const limit = 1
	a, h := setUpBench(t, newRSASigner(t, 0, "k1"))
	ctx := context.Background()
	n := testing.AllocsPerRun(200, func() {
		if res := a.AuthenticateHTTP(ctx, h); res.Err != nil {
			t.Fatal(res.Err)
		}
	})
	if n > limit {
		t.Errorf("a cached token costs %v allocations, want at most %d", n, limit)
	}
}
