// Command grpc runs a small shop's payments service over gRPC on a Weft
// mesh, in one process on loopback: three payments instances serve the
// shop.Payments contract (proto/shop/payments.proto), a checkout node calls
// them through a mesh channel, and a reports node shows authorization by
// method. Midway one payments instance drains, with calls and a stream in
// flight; no call fails.
//
// The generated code in shoppb is committed; regenerate it with
//
//	go generate ./examples/grpc
//
// which runs generate.sh: buf, protoc-gen-go and protoc-gen-go-grpc, all
// pinned in tools/protoc and built from the Go module proxy.
package main

//go:generate ./generate.sh
