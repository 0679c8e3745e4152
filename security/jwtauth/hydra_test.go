package jwtauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hydratest"
	"github.com/weftmesh/weft/security/jwtauth"
)

// TestHydraTokens verifies access tokens a real ORY Hydra issued by the
// client-credentials flow, with the key set fetched from Hydra's own
// JWKS URL over HTTPS.
func TestHydraTokens(t *testing.T) {
	h := hydratest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := h.CreateClient(ctx, []string{"orders.read", "orders.write"}, []string{"orders", "billing"})
	if err != nil {
		t.Fatal(err)
	}
	a := mustNew(t, jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: h.Issuer(), Audiences: []string{"orders"},
		JWKS: jwtauth.JWKS{URL: h.JWKSURL(), CA: h.CAFile()}}}}, jwtauth.Options{})

	tok, err := h.Token(ctx, client, []string{"orders.read"}, []string{"orders"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Hydra's token: %v", err)
	}
	if c := v.Claims(); c.Subject() != client.ID || !c.Has("scp", "orders.read") || c.Has("scp", "orders.write") || c.Issuer() != h.Issuer() {
		t.Errorf("claims %s", c.JSON())
	}

	// Issued for another audience.
	billing, err := h.Token(ctx, client, []string{"orders.read"}, []string{"billing"})
	if err != nil {
		t.Fatal(err)
	}
	var te *jwtauth.TokenError
	if _, err := a.Verify(ctx, billing); !errors.As(err, &te) || !strings.Contains(te.Reason, "audience") {
		t.Errorf("token for billing: %v", err)
	}
	// Tampered with: the scope widened in the payload.
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
	if _, err := a.Verify(ctx, forged); err == nil {
		t.Error("a tampered Hydra token verified")
	}
	// The same issuer name with keys from elsewhere.
	other := mustNew(t, jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: h.Issuer(), Audiences: []string{"orders"},
		JWKS: jwtauth.JWKS{File: writeKeySet(t, newRSASigner(t, 0, "x"))}}}}, jwtauth.Options{})
	if _, err := other.Verify(ctx, tok); !errors.As(err, &te) {
		t.Errorf("Hydra's token against other keys: %v", err)
	}
}
