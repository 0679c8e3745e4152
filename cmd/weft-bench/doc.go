// Command weft-bench measures what one request costs through Weft and
// through the alternatives a Go service has, over loopback, and writes the
// comparison as JSON, an SVG chart and markdown tables.
//
// Usage, from the repository's root:
//
//	go run ./cmd/weft-bench [-out docs/bench] [-doc docs/BENCHMARKS.md] [flags]
//
// # Modes
//
// Each mode serves the same answer ("ok" to GET /, or shop.Payments/Quote
// of examples/grpc) through one kind of hop:
//
//	net-http         net/http client and server, plaintext
//	raw-mtls         net/http with mutual TLS by hand: the baseline
//	weft             two Weft nodes, plaintext (the built-in policy)
//	weft-mtls        two Weft nodes with identities from a development CA, strict mutual TLS
//	weft-mtls-trace  weft-mtls with every trace recorded
//	haproxy-pair     client → HAProxy A → mutual TLS → HAProxy B → plain Go server
//	grpc-go-mtls     grpc-go client and server with mutual TLS by hand
//	weft-grpc-mtls   a channel from Node.DialGRPC to a server from Node.NewGRPCServer, strict mutual TLS
//
// Every secured mode uses the same development CA (security/devca, what
// "weft ca init" makes) and ECDSA P-256 SVIDs for the same SPIFFE IDs:
// Weft nodes issue their own from the CA, the others read files the run
// issues from it. TLS 1.3 everywhere; HAProxy is held to the cipher suite
// Go chooses (TLS_AES_128_GCM_SHA256). HTTP modes speak HTTP/1.1 on
// kept-alive connections. The Weft modes use only Weft's public API
// (mesh.Start, Node.NewClient, Node.Serve, Node.DialGRPC,
// Node.NewGRPCServer, Node.ServeGRPC), so they measure what a service gets.
//
// The traced mode records every trace with a parent-based always-on
// sampler. By default its spans go through the OpenTelemetry SDK's batch
// processor to an in-process exporter that drops them, so it costs what
// Weft and the SDK cost without OTLP encoding; with -otlp HOST:PORT the
// nodes take tracing from the policy (telemetry.tracing, sampleRatio 1)
// and export to that collector, whose own CPU is not counted.
//
// The HAProxy pair is two "haproxy -db -f FILE" processes with one thread
// each, "http-reuse always" and keep-alive on every hop. The binary is
// -haproxy, else $WEFT_HAPROXY, else haproxy on the PATH
// (scripts/install-packages installs Debian's). Each sidecar adds a
// response header (X-Bench-Via) and the second writes into it whether the
// hop from the first presented a verified client certificate; a run whose
// first answer lacks either fails.
//
// # What a run does
//
// Every mode runs its server and its load generator as separate
// processes (the command starts itself again for each side), and HAProxy
// as two more. For each of -reps reps, every mode takes its turn (rep 1 of
// each mode, then rep 2, ...), with processes started afresh:
//
//  1. the load generator connects and sends one request, which says what it
//     went through (protocol, TLS, sidecars);
//  2. a warm-up of -warmup with -concurrency callers, not measured;
//  3. a closed loop of -duration: -concurrency callers, each sending its
//     next request as soon as the last is answered, the most the mode
//     serves;
//  4. an open loop of -duration at each of -rates requests per second:
//     requests leave at their scheduled times whether or not earlier ones
//     were answered, on at most -concurrency connections, and each
//     request's latency counts from its scheduled time, so that a stall is
//     charged to every request queued behind it (no coordinated omission).
//
// Around each measured phase the load generator reads the CPU time (user
// and system) of every process of the mode from /proc/self/stat and
// /proc/PID/stat, so each mode pays for everything it runs: both Weft
// nodes, or the client, both sidecars and the server. It also reads
// /proc/stat, to report how busy the rest of the machine was.
//
// Figures are the median [min..max] over reps. Ratios and differences
// against the baseline (and Weft against net/http, Weft gRPC against
// grpc-go) are taken rep by rep, between runs minutes apart at most,
// then summarised.
//
// # Output
//
// In -out: comparison.json (settings, machine, every phase of every run
// with its per-process CPU, and the summary), comparison.svg (latency
// percentiles, throughput and CPU per request by process, per mode,
// drawn by this command) and comparison.md (the tables). With -doc, the
// part of that markdown file between the lines
//
//	<!-- weft-bench:begin -->
//	<!-- weft-bench:end -->
//
// is replaced by the same tables, the chart's link and the command line.
// -from FILE measures nothing and writes all of it again from the
// comparison.json of an earlier run. The exit status is 1 if any run
// failed; the others are still written. -keep keeps the work directory
// (certificates, policies, HAProxy configurations and each process's
// log); a failed run always keeps it.
package main
