// Package mesh is the one package a service imports to join a Weft mesh.
//
// A [Node] is one member of the mesh hosting one service. It gossips with
// the other members to learn where every service runs ([discovery]), sends
// client requests to live endpoints chosen by a load balancer
// ([transport], [resilience]), and serves inbound requests behind the
// mesh's middleware. All of it is steered by one shared YAML policy file
// that the node watches and reloads.
//
//	node, err := mesh.Start(ctx, mesh.Config{Service: "checkout", Join: []string{"10.0.0.5:7946"}})
//	...
//	payments := node.NewClient("payments")
//	resp, err := payments.Get("http://payments/charge")
//	...
//	err = node.ListenAndServe(":8080", handler)
//
// Package-level [NewClient] and [Wrap] act on the process's default node,
// so that code deep inside a service need not be handed the *Node.
//
// This package is a thin façade: it wires the mechanism packages together
// and owns the node's lifecycle (start, ready, drain, shutdown). The
// mechanisms themselves live in discovery, transport and resilience.
package mesh
