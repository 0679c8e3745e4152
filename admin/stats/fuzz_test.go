package stats

import (
	"encoding/json"
	"testing"
	"time"
)

// A peer's snapshot is untrusted input: whatever it holds, checking and
// merging it never panics, and what Check accepts merges into counts that
// add up.
func FuzzSnapshot(f *testing.F) {
	f.Add([]byte(`{"v":1,"bucketSeconds":5,"latencyBuckets":40,"now":360000000,"series":[{"d":"out","p":"b","pr":"http","b":[{"t":359999999,"n":3,"f":1,"h":[0,2,39,1]}]}]}`))
	f.Add([]byte(`{"v":1,"bucketSeconds":5,"latencyBuckets":40,"series":[{"d":"in","p":"","b":[{"t":-1,"n":18446744073709551615,"f":18446744073709551615,"h":[5,18446744073709551615]}]}]}`))
	f.Add([]byte(`{"v":1,"series":[{"d":"in","b":[{"h":[41,1]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Snapshot
		if json.Unmarshal(data, &s) != nil {
			return
		}
		if s.Check() != nil {
			return
		}
		v := Merge(time.Unix(1_800_000_000, 0), []Snapshot{s, s})
		for _, e := range v.Edges {
			if e.SuccessRate < 0 || e.SuccessRate > 1 || e.RPS < 0 || e.P50Ms < 0 || e.P99Ms < e.P50Ms && e.P99Ms != 0 {
				t.Fatalf("edge %+v", e)
			}
		}
	})
}
