package policy

import (
	"fmt"
	"strings"
)

// unknownKeyMessage explains an unknown key found in the mapping at path,
// listing the keys that belong there and suggesting the closest one when
// the key looks like a typo.
// serviceOnlyKeys are keys of a service's section that defaults cannot
// hold: they describe the service's own instances or routes.
var serviceOnlyKeys = map[string]bool{"grpcReflection": true, "subsets": true, "routes": true, "inbound": true, "mtls": true}

func unknownKeyMessage(key, path, pattern string, known []string) string {
	where := "in " + path
	if path == "" {
		where = "at the top level"
	}
	msg := fmt.Sprintf("unknown key %q %s", truncate(key), where)
	if pattern == "defaults" && serviceOnlyKeys[key] {
		return fmt.Sprintf("%s: %s is a service's own and cannot apply to every service; set it under services.<name>", msg, key)
	}
	if s := closest(key, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	if len(known) == 0 {
		return msg + "; no keys are allowed here"
	}
	return msg + "; known keys here: " + strings.Join(known, ", ")
}

// closest returns the candidate nearest to key if it is near enough to be
// an obvious typo (same letters in another case, or a small edit distance),
// else "".
func closest(key string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if strings.EqualFold(c, key) {
			return c
		}
		d := editDistance(strings.ToLower(key), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(1, len(best)/4) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// by bytes: insertions, deletions, substitutions and swaps of adjacent
// bytes each count one, so "retires" is one edit from "retries".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // too long to be a typo; skip the work
	}
	// rows[i%3] holds the distances for a[:i]; three rows cover the swap.
	var rows [3][]int
	for r := range rows {
		rows[r] = make([]int, len(b)+1)
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur, prev, prev2 := rows[i%3], rows[(i-1)%3], rows[(i+1)%3]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
	}
	return rows[len(a)%3][len(b)]
}
