// Package observe is the contract between the code that moves requests
// (the client engine behind HTTP clients and gRPC channels, and the
// inbound side of servers) and the code that watches them: tracing,
// metrics, access logs, the routing history and the admin endpoint.
//
// Producers call a [CallObserver] for every client call and each of its
// attempts, and an [InboundObserver] for every request served; package
// telemetry implements both, and [DecisionLog] keeps the last routing
// decisions. [DestinationStatus] is the snapshot of a destination that
// the admin endpoint shows. The package imports nothing of the mesh, so
// that every side can depend on it.
package observe
