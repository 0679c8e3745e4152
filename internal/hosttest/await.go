package hosttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// pollInterval is how often Await checks.
const pollInterval = 100 * time.Millisecond

// Await calls check until it returns nil or timeout has passed, and
// returns how long that took, or check's last error.
func Await(timeout time.Duration, check func() error) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := check()
		if err == nil {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(pollInterval) // a poll's pace, not a synchronisation
	}
}

// Converged returns nil when every process in procs sees the nodes of
// procs alive, no other member alive, and their HTTP endpoints, only
// those, as the endpoints of service; else what the first differing view
// lacks or has in excess.
func Converged(procs []*Proc, service string) error {
	var nodes, endpoints []string
	for _, p := range procs {
		nodes = append(nodes, p.Node())
		endpoints = append(endpoints, p.Started().HTTP)
	}
	slices.Sort(nodes)
	slices.Sort(endpoints)
	for _, p := range procs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := p.Members(ctx)
		cancel()
		if err != nil {
			return err
		}
		alive := m.Alive()
		slices.Sort(alive)
		if !slices.Equal(alive, nodes) {
			return fmt.Errorf("%s sees alive [%s], want [%s]", p.label, strings.Join(alive, " "), strings.Join(nodes, " "))
		}
		eps := slices.Clone(m.Endpoints[service])
		slices.Sort(eps)
		if !slices.Equal(eps, endpoints) {
			return fmt.Errorf("%s sends %s to [%s], want [%s]", p.label, service, strings.Join(eps, " "), strings.Join(endpoints, " "))
		}
	}
	return nil
}
