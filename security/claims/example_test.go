package claims_test

import (
	"context"
	"fmt"

	"github.com/weftmesh/weft/security/claims"
)

// A condition of a rule or route, matched against the claims of two
// users' verified tokens.
func ExampleRequirement() {
	admins, err := claims.Compile(map[string][]string{
		"groups": {"admins", "ops"},
		"scope":  {"orders.write"},
	})
	if err != nil {
		panic(err)
	}
	alice, _ := claims.Parse([]byte(`{"sub":"alice","groups":["ops"],"scope":"orders.read orders.write"}`))
	bob, _ := claims.Parse([]byte(`{"sub":"bob","groups":["ops"],"scope":"orders.read"}`))
	fmt.Println(admins.Match(alice), admins.Match(bob), admins.Match(nil))
	// Output: true false false
}

// Handlers read the claims of their request's user from its context.
func ExampleFromContext() {
	user, _ := claims.Parse([]byte(`{"iss":"https://id.example/","sub":"alice","plan":"beta"}`))
	ctx := claims.NewContext(context.Background(), user)

	if c, ok := claims.FromContext(ctx); ok {
		plan, _ := c.String("plan")
		fmt.Println(c.Subject(), plan)
	}
	// Output: alice beta
}
