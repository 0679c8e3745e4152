package rpc

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weftmesh/weft/resilience/retry"
)

// HTTPStatus returns the HTTP status that stands for a gRPC code, as
// google.rpc.Code documents the pairs. Weft's retry conditions (5xx,
// gateway-error, 429), breakers and outlier detection read gRPC outcomes
// through it, so that a policy means the same for both protocols:
// Unavailable is 503 and DeadlineExceeded 504 (gateway errors),
// ResourceExhausted 429, Internal, Unknown and DataLoss 500.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return 200
	case codes.Canceled:
		return 499
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return 400
	case codes.Unauthenticated:
		return 401
	case codes.PermissionDenied:
		return 403
	case codes.NotFound:
		return 404
	case codes.AlreadyExists, codes.Aborted:
		return 409
	case codes.ResourceExhausted:
		return 429
	case codes.Unimplemented:
		return 501
	case codes.Unavailable:
		return 503
	case codes.DeadlineExceeded:
		return 504
	}
	return 500 // Unknown, Internal, DataLoss and codes gRPC may add
}

// Code returns the gRPC code that stands for an HTTP status: the inverse
// of [HTTPStatus] where it is one to one, Unavailable for 502, Internal for
// other 5xx statuses and Unknown for the rest. An injected fault's abort
// status reaches gRPC callers through it.
func Code(httpStatus int) codes.Code {
	switch httpStatus {
	case 200:
		return codes.OK
	case 400:
		return codes.InvalidArgument
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.NotFound
	case 409:
		return codes.Aborted
	case 429:
		return codes.ResourceExhausted
	case 499:
		return codes.Canceled
	case 501:
		return codes.Unimplemented
	case 502, 503:
		return codes.Unavailable
	case 504:
		return codes.DeadlineExceeded
	}
	if httpStatus >= 500 && httpStatus <= 599 {
		return codes.Internal
	}
	return codes.Unknown
}

// refusedStream reports whether err says that the server refused the
// stream before processing it: an HTTP/2 REFUSED_STREAM, or a GOAWAY whose
// last stream ID is below the stream's. grpc-go reports both with these
// messages and no other mark an interceptor can read.
func refusedStream(err error) bool {
	s, ok := status.FromError(err)
	if !ok || s.Code() != codes.Unavailable {
		return false
	}
	m := s.Message()
	return strings.HasSuffix(m, "REFUSED_STREAM") || m == "the connection is draining"
}

// result is how one attempt ended, as its endpoint's done callback saw it.
type result struct {
	finished bool // the done callback ran
	sent     bool // the stream was created: the server may have seen the call
	received bool // the server answered: its status is the call's
	err      error
}

// outcome turns an attempt's result into the retry policy's terms.
// timedOut reports that the attempt's own per-try deadline passed.
func (r result) outcome(timedOut bool) retry.Outcome {
	switch {
	case r.err == nil:
		return retry.Outcome{Status: 200}
	case !r.sent:
		return retry.Outcome{Failure: retry.ConnectFailure}
	case refusedStream(r.err):
		return retry.Outcome{Failure: retry.RefusedStream}
	case r.received:
		return retry.Outcome{Status: HTTPStatus(status.Code(r.err))}
	case timedOut:
		return retry.Outcome{Failure: retry.Timeout}
	}
	return retry.Outcome{Failure: retry.Reset}
}
