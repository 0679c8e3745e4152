package mesh_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/weftmesh/weft/internal/jwttest"
	"github.com/weftmesh/weft/mesh"
	"github.com/weftmesh/weft/mesh/meshtest"
)

// BenchmarkRequestJWT compares a request through two Weft nodes that
// carries a valid bearer token the server ignores ("weft") with the same
// request to a server that verifies it ("weft-jwt"; the token was seen
// before, as every request but a token's first), and with one that also
// applies a rule on its claims ("weft-jwt-rules").
func BenchmarkRequestJWT(b *testing.B) {
	key := jwttest.RSA(b, 0, "k1")
	keys := jwttest.WriteKeySet(b, key)
	tok := key.Sign(b, userClaims("echo", "alice", "scope", "echo.read", "exp", time.Now().Add(24*time.Hour).Unix()))
	for _, row := range []struct{ name, inbound string }{
		{"weft", ""},
		{"weft-jwt", "    inbound:\n" + jwtSection(keys, "echo", "")},
		{"weft-jwt-rules", "    inbound:\n" + jwtSection(keys, "echo", "") + "      authorization: {rules: [{claims: {scope: echo.read}}]}\n"},
	} {
		b.Run(row.name, func(b *testing.B) {
			m := meshtest.New(b)
			m.PolicyFile = writePolicy(b, "version: 1\nservices:\n  echo:\n"+row.inbound)
			m.Serve(mesh.Config{Service: "echo"}, okHandler)
			client := m.Start(mesh.Config{Service: "client"})
			meshtest.WaitEndpoints(b, client, "echo", 1)
			c := client.NewClient("echo")
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, "http://echo/", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
