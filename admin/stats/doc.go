// Package stats counts a node's requests per edge of the service graph,
// for the admin dashboard: for each service the node calls and each caller
// it serves, a few minutes of request counts, failures and latency
// histograms in fixed time buckets.
//
// A [Recorder] is a [observe.CallObserver] and a
// [observe.InboundObserver]; recording a request takes one short lock
// and allocates nothing. [Recorder.Snapshot] returns the compact form one
// node serves to its peers, and [Merge] adds up the snapshots of many
// nodes: counts and histogram buckets are summed, so percentiles computed
// from the merged histogram are those of all the requests together, never
// an average of each node's percentiles.
package stats
