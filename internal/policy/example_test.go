package policy_test

import (
	"fmt"

	"github.com/weftmesh/weft/internal/policy"
)

func ExampleParse() {
	src := `version: 1
services:
  payments:
    timeout: 2
    inbound: {authorization: {rules: [{paths: ["/refunds*/x"]}]}}
`
	_, err := policy.Parse("mesh.yaml", []byte(src))
	fmt.Println(err)
	// Output:
	// mesh.yaml:4:14: services.payments.timeout: expected a duration like 2s or 500ms, got the number 2; add a unit, for example 2s
	// mesh.yaml:5:30: services.payments.inbound.authorization: rules need verified callers, but payments runs without mTLS: configure security.identity and an mtls mode other than disabled (only rules with claims and no from can do without)
	// mesh.yaml:5:48: services.payments.inbound.authorization.rules[0].paths[0]: "/refunds*/x": '*' may only end a path pattern, as in "/refunds/*"
}

func ExamplePolicy_Destination() {
	src := `version: 1
defaults: {loadBalancer: round_robin}
services:
  payments: {timeout: 2s}
`
	p, err := policy.Parse("mesh.yaml", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, service := range []string{"payments", "catalog"} {
		d := p.Destination(service)
		fmt.Println(service, d.LoadBalancer, d.Timeout)
	}
	// Output:
	// payments round_robin 2s
	// catalog round_robin 5s
}
