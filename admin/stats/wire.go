package stats

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SnapshotVersion is the version of the [Snapshot] format; a node refuses
// to merge a snapshot of another version or with other buckets.
const SnapshotVersion = 1

// Snapshot is a node's counts in the compact form its admin endpoint
// serves to its peers (/weft/stats).
type Snapshot struct {
	Version int    `json:"v"`
	Service string `json:"service"`
	Node    string `json:"node"`
	// BucketSeconds is the width of a time bucket, Buckets the number of
	// latency buckets; both must match the reader's.
	BucketSeconds int `json:"bucketSeconds"`
	Buckets       int `json:"latencyBuckets"`
	// Now is the current time bucket when the snapshot was taken: unix
	// seconds divided by BucketSeconds.
	Now    int64    `json:"now"`
	Series []Series `json:"series,omitempty"`
}

// Series is one edge of the node: the calls it made to Peer (Dir [Out]),
// or the requests it served for Peer (Dir [In]; Peer "" when the caller
// named no service).
type Series struct {
	Dir      string       `json:"d"`
	Peer     string       `json:"p"`
	Protocol string       `json:"pr"`
	Buckets  []WireBucket `json:"b"`
}

// WireBucket is one time bucket of a series.
type WireBucket struct {
	// Epoch is the bucket's start in unix seconds divided by BucketSeconds.
	Epoch int64 `json:"t"`
	// N counts the requests that ended in the bucket, Fails the failed
	// ones.
	N     uint64 `json:"n"`
	Fails uint64 `json:"f,omitempty"`
	// Hist is the latency histogram, sparse: pairs of bucket index and
	// count, for the non-empty buckets only.
	Hist []uint64 `json:"h"`
}

func sparse(h *Histogram) []uint64 {
	var out []uint64
	for i, c := range h {
		if c > 0 {
			out = append(out, uint64(i), c)
		}
	}
	return out
}

// histogram expands a sparse histogram, checking what a peer sent.
func (b *WireBucket) histogram() (Histogram, error) {
	var h Histogram
	if len(b.Hist)%2 != 0 {
		return h, errors.New("odd histogram length")
	}
	for i := 0; i < len(b.Hist); i += 2 {
		idx, c := b.Hist[i], b.Hist[i+1]
		if idx >= NumBuckets {
			return h, fmt.Errorf("latency bucket %d out of range", idx)
		}
		h[idx] += c
	}
	return h, nil
}

// Check reports what makes a snapshot unusable: another format version,
// other buckets, or bad histograms.
func (s *Snapshot) Check() error {
	switch {
	case s.Version != SnapshotVersion:
		return fmt.Errorf("stats: snapshot version %d, want %d (a node of another Weft version)", s.Version, SnapshotVersion)
	case s.BucketSeconds != BucketSeconds || s.Buckets != NumBuckets:
		return fmt.Errorf("stats: snapshot of %ds time buckets and %d latency buckets, want %ds and %d (a node of another Weft version)",
			s.BucketSeconds, s.Buckets, BucketSeconds, NumBuckets)
	}
	for _, ser := range s.Series {
		if ser.Dir != In && ser.Dir != Out {
			return fmt.Errorf("stats: series direction %q", ser.Dir)
		}
		for i := range ser.Buckets {
			if _, err := ser.Buckets[i].histogram(); err != nil {
				return fmt.Errorf("stats: series %s %s: %w", ser.Dir, ser.Peer, err)
			}
		}
	}
	return nil
}

func sortSeries(s []Series) {
	slices.SortFunc(s, func(a, b Series) int {
		return strings.Compare(a.Dir+"\x00"+a.Peer+"\x00"+a.Protocol, b.Dir+"\x00"+b.Peer+"\x00"+b.Protocol)
	})
}
