package hydratest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/hydratest"
)

// TestClientCredentials registers a client and gets a JWT access token
// for it: the token's payload names the issuer, the audience and the
// scopes asked for.
func TestClientCredentials(t *testing.T) {
	h := hydratest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := h.CreateClient(ctx, []string{"orders.read", "orders.write"}, []string{"orders"})
	if err != nil {
		t.Fatalf("%v\n%s", err, h.Log())
	}
	tok, err := h.Token(ctx, c, []string{"orders.read"}, []string{"orders"})
	if err != nil {
		t.Fatalf("%v\n%s", err, h.Log())
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string   `json:"iss"`
		Sub string   `json:"sub"`
		Aud []string `json:"aud"`
		Scp []string `json:"scp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != h.Issuer() || claims.Sub != c.ID || len(claims.Aud) != 1 || claims.Aud[0] != "orders" || len(claims.Scp) != 1 || claims.Scp[0] != "orders.read" {
		t.Errorf("claims %s", payload)
	}
}
