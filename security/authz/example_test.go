package authz_test

import (
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/weftmesh/weft/security/authz"
)

func Example() {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	// The mesh maps a service name to the SPIFFE ID its instances present.
	idOf := func(service string) (spiffeid.ID, error) {
		return spiffeid.FromSegments(td, "svc", service)
	}
	p, err := authz.Compile(authz.Config{Rules: []authz.Rule{
		{From: []string{"orders", "spiffe://example.org/ns/batch/*"}, Methods: []string{"GET", "POST"}, Paths: []string{"/charge", "/refunds/*"}},
		{From: []string{"checkout"}, Paths: []string{"/shop.Payments/*"}},
	}}, td, idOf)
	if err != nil {
		fmt.Println(err)
		return
	}

	show := func(peer, method, path string) {
		var id spiffeid.ID
		if peer != "" {
			id = spiffeid.RequireFromString(peer)
		}
		d := p.Decide(id, method, path, nil)
		if d.Allow {
			fmt.Printf("%s %s: allowed by rule %d\n", method, path, d.Rule)
		} else {
			fmt.Printf("%s %s: denied: %s\n", method, path, d.Reason)
		}
	}
	show("spiffe://example.org/svc/orders", "POST", "/refunds/17")
	show("spiffe://example.org/svc/orders", "DELETE", "/charge")
	show("spiffe://example.org/svc/checkout", "POST", "/shop.Payments/Charge")
	show("spiffe://example.org/svc/checkout", "POST", "/charge")
	show("spiffe://example.org/svc/search", "GET", "/charge")
	show("spiffe://partner.net/svc/ledger", "GET", "/charge")
	show("", "GET", "/charge")
	// Output:
	// POST /refunds/17: allowed by rule 0
	// DELETE /charge: denied: method not allowed for this source
	// POST /shop.Payments/Charge: allowed by rule 1
	// POST /charge: denied: path not allowed
	// GET /charge: denied: source not allowed
	// GET /charge: denied: peer from trust domain partner.net: allow it with a rule naming its SPIFFE ID
	// GET /charge: denied: no identity: the caller presented no verified SPIFFE ID
}

// Example_dryRun shows how a server treats a decision: in dry-run mode a
// denied request is logged and served.
func Example_dryRun() {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	p, err := authz.Compile(authz.Config{
		Mode:  authz.DryRun,
		Rules: []authz.Rule{{From: []string{"spiffe://example.org/svc/orders"}}},
	}, td, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d := p.Decide(spiffeid.RequireFromString("spiffe://example.org/svc/search"), "GET", "/charge", nil)
	switch {
	case d.Refuse():
		fmt.Println("403:", d.Reason)
	case !d.Allow:
		fmt.Println("would deny, served anyway:", d.Reason)
	default:
		fmt.Println("allowed")
	}
	// Output:
	// would deny, served anyway: source not allowed
}
