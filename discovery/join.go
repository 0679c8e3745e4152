package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// Join retry backoff: quick at first, for seeds that start at the same
// time, then no more than one attempt every few seconds. Each wait is
// drawn at random up to the backoff, so that members started together do
// not retry together.
const (
	joinBackoffMin = 100 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// SeedError is why one seed could not be joined.
type SeedError struct {
	// Seed is the seed as given in Config.Join.
	Seed string
	// Addr is the address tried, when Seed is a name that resolved.
	Addr string
	// Reason says in words what went wrong and what to check.
	Reason string
	// Err is the underlying error.
	Err error
}

// Error names the seed and says why it could not be joined.
func (e *SeedError) Error() string {
	seed := e.Seed
	if e.Addr != "" && e.Addr != e.Seed {
		seed += " (" + e.Addr + ")"
	}
	return fmt.Sprintf("seed %s: %s", seed, e.Reason)
}

func (e *SeedError) Unwrap() error { return e.Err }

// JoinError is returned by [Start] when no seed answered before the
// context ended or the join timeout passed.
type JoinError struct {
	// Seeds are the seeds tried, as given in Config.Join.
	Seeds []string
	// Attempts is how many times every seed was tried.
	Attempts int
	// Last holds the last attempt's [*SeedError]s, one per address tried.
	Last []error
	// Cause is the context's error.
	Cause error
}

// Error says how long the seeds were tried and why each failed last.
func (e *JoinError) Error() string {
	reasons := make([]string, len(e.Last))
	for i, err := range e.Last {
		reasons[i] = err.Error()
	}
	return fmt.Sprintf("discovery: join: no seed answered in %d attempts (%v): %s", e.Attempts, e.Cause, strings.Join(reasons, "; "))
}

// Unwrap returns the seeds' errors and the context's error, so that
// errors.Is(err, context.DeadlineExceeded) works.
func (e *JoinError) Unwrap() []error { return append(slices.Clone(e.Last), e.Cause) }

// join contacts the seeds until one answers or ctx ends, logging each
// failed attempt. Without a deadline in ctx it gives up after timeout. An
// attempt in progress is not interrupted by ctx; it lasts at most
// Timing.TCPTimeout per address tried.
func join(ctx context.Context, ml *memberlist.Memberlist, seeds []string, timeout time.Duration, logger *slog.Logger) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	backoff := joinBackoffMin
	for attempt := 1; ; attempt++ {
		errs, first := joinSeeds(ctx, ml, seeds)
		if errs == nil && !first {
			if attempt > 1 {
				logger.Info("discovery: joined the mesh", "attempts", attempt)
			}
			return nil
		}
		if first {
			for _, err := range errs {
				logger.Warn("discovery: seed did not answer", "err", err)
			}
			logger.Info("discovery: no other seed answered; this member, one of the seeds, starts the mesh and joins the others when they answer")
			return nil
		}
		wait := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		for _, err := range errs {
			logger.Warn("discovery: join attempt failed, retrying", "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return &JoinError{Seeds: slices.Clone(seeds), Attempts: attempt, Last: errs, Cause: ctx.Err()}
		case <-t.C:
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}

// joinSeeds tries the seeds' addresses in random order, so that members
// started together spread over the seeds, until one answers. It returns
// nil on success, else one error per address (or per seed that did not
// resolve).
//
// The member's own address is not tried: a seed list shared by every
// member (a DNS name of all of them, say) holds it, and joining oneself
// succeeds without reaching anyone. When no other seed answers and the
// member is one of the seeds, it starts as the first member of its mesh;
// the healer joins it to the other seeds once they run: first is then
// true, with the errors of the other seeds.
func joinSeeds(ctx context.Context, ml *memberlist.Memberlist, seeds []string) (errs []error, first bool) {
	self := localAddr(ml)
	type target struct{ seed, addr string }
	var targets []target
	isSeed := false
	for _, seed := range seeds {
		addrs, err := resolveSeed(ctx, seed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			if a == self {
				isSeed = true
				continue
			}
			targets = append(targets, target{seed, a})
		}
	}
	rand.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	for _, t := range targets {
		if ctx.Err() != nil {
			break
		}
		_, err := ml.Join([]string{t.addr})
		if err == nil {
			return nil, false
		}
		err = unwrapMulti(err)
		errs = append(errs, &SeedError{Seed: t.seed, Addr: t.addr, Reason: joinReason(err), Err: err})
	}
	if isSeed && ctx.Err() == nil {
		return errs, true
	}
	if len(errs) == 0 {
		errs = append(errs, ctx.Err())
	}
	return errs, false
}

// localAddr returns the address other members reach ml at, as seeds
// list it.
func localAddr(ml *memberlist.Memberlist) string {
	n := ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// checkSeed reports whether seed is a usable host:port.
func checkSeed(seed string) error {
	host, port, err := net.SplitHostPort(seed)
	if err != nil || host == "" {
		return fmt.Errorf("seed %q: want host:port, such as 10.0.0.7:7946 or weft.example.svc:7946", seed)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("seed %q: port %q: want a number from 1 to 65535", seed, port)
	}
	return nil
}

// lookupHost resolves a seed's host name; tests replace it.
var lookupHost = net.DefaultResolver.LookupHost

// resolveSeed returns the IP:port addresses seed stands for: itself when
// its host is an IP address, else one per address its name resolves to.
func resolveSeed(ctx context.Context, seed string) ([]string, error) {
	host, port, _ := net.SplitHostPort(seed)
	if net.ParseIP(host) != nil {
		return []string{seed}, nil
	}
	ips, err := lookupHost(ctx, host)
	if err != nil || len(ips) == 0 {
		reason := "its host name does not resolve to any address: check the name, and that the DNS records exist"
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && !dnsErr.IsNotFound {
			reason = "its host name could not be resolved (" + dnsErr.Err + "): check the DNS server"
		}
		return nil, &SeedError{Seed: seed, Reason: reason, Err: err}
	}
	addrs := make([]string, len(ips))
	for i, ip := range ips {
		addrs[i] = net.JoinHostPort(ip, port)
	}
	return addrs, nil
}

// unwrapMulti returns the one error inside memberlist's multi-error, which
// it returns from Join even for a single address.
func unwrapMulti(err error) error {
	if me, ok := err.(interface{ WrappedErrors() []error }); ok {
		if errs := me.WrappedErrors(); len(errs) == 1 {
			return errs[0]
		}
	}
	return err
}

// joinReason turns memberlist's join error into words a user can act on.
// memberlist reports a remote member that cannot read our stream
// (another gossip key, another mesh name) only as the stream ending; the
// seed's own log then says which.
func joinReason(err error) string {
	// memberlist formats the network's errors into its own with %v:
	// they are recognised by their text.
	msg := strings.ToLower(unwrapMulti(err).Error())
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), strings.Contains(msg, "connection refused"):
		return "connection refused: nothing listens there; check the seed runs and its gossip port"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), strings.Contains(msg, "no route to host"), strings.Contains(msg, "network is unreachable"):
		return "no route to the seed's host: check the address and the network"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "deadline exceeded"):
		return "timed out: the seed did not answer within the TCP timeout; check the address, firewalls, and that the seed is not overloaded"
	case strings.Contains(msg, "remote state is encrypted and encryption is not configured"):
		return "the seed encrypts gossip and this member has no key: set the same mesh.gossipKey on both"
	case strings.Contains(msg, "encryption is configured but remote state is not encrypted"):
		return "this member encrypts gossip and the seed does not: set the same mesh.gossipKey on both"
	case strings.Contains(msg, "no installed keys could decrypt"), strings.Contains(msg, "decrypt"):
		return "the seed's gossip key differs from this member's: set the same mesh.gossipKey on both"
	case strings.Contains(msg, "label"):
		return "the seed belongs to another mesh: check mesh.name on both"
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), strings.Contains(msg, "eof"), strings.Contains(msg, "connection reset"):
		return "the seed closed the connection without answering: it belongs to another mesh (mesh.name) or uses another gossip key (mesh.gossipKey); its log says which"
	}
	return msg
}
