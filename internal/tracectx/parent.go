package tracectx

import (
	"math/rand/v2"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// Header names, as W3C trace context and baggage spell them.
const (
	ParentHeader  = "traceparent"
	StateHeader   = "tracestate"
	BaggageHeader = "baggage"
)

// Parent is what a traceparent header says: the trace, the caller's span
// in it, and the trace flags.
type Parent struct {
	TraceID trace.TraceID
	SpanID  trace.SpanID
	Flags   trace.TraceFlags
}

// Of returns the traceparent that passes sc on, with the flags W3C
// defines (sampled, random) and no others, as OpenTelemetry's TraceContext
// propagator writes it.
func Of(sc trace.SpanContext) Parent {
	return Parent{TraceID: sc.TraceID(), SpanID: sc.SpanID(), Flags: sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom)}
}

// SpanContext returns p as the remote span context a caller sent.
func (p Parent) SpanContext() trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: p.TraceID, SpanID: p.SpanID, TraceFlags: p.Flags, Remote: true})
}

// textLen is the length of a version 00 traceparent:
// "00-" trace ID "-" span ID "-" flags.
const textLen = 2 + 1 + 32 + 1 + 16 + 1 + 2

// ParseParent reads a traceparent header value the way OpenTelemetry's
// TraceContext propagator does, field by field: a version other than ff,
// then the trace ID, span ID and flags in lower-case hex; version 00 has
// nothing after the flags (but a lone '-') and no reserved flag bits set,
// later versions may have more fields. A trace or span ID of zeros is
// invalid, and flags other than sampled and random are dropped. ok is
// false where the propagator would extract no span context.
func ParseParent(h string) (p Parent, ok bool) {
	var ver, flags [1]byte
	if !field(ver[:], &h) || ver[0] == 0xff ||
		!field(p.TraceID[:], &h) || !field(p.SpanID[:], &h) || !field(flags[:], &h) {
		return p, false
	}
	if ver[0] == 0 && (h != "" || flags[0] > 3) {
		return p, false
	}
	p.Flags = trace.TraceFlags(flags[0]) & (trace.FlagsSampled | trace.FlagsRandom)
	return p, p.TraceID.IsValid() && p.SpanID.IsValid()
}

// field decodes the next '-'-separated field of *h, which must be the
// lower-case hex of exactly len(dst) bytes, and leaves the rest in *h.
func field(dst []byte, h *string) bool {
	part, rest, _ := strings.Cut(*h, "-")
	*h = rest
	return len(part) == 2*len(dst) && unhex(dst, part)
}

// unhex decodes the lower-case hex of src into dst (len(src) == 2*len(dst)).
func unhex(dst []byte, src string) bool {
	for i := range dst {
		hi, ok1 := nibble(src[2*i])
		lo, ok2 := nibble(src[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// put writes p's text into b.
func (p Parent) put(b *[textLen]byte) {
	b[0], b[1], b[2] = '0', '0', '-'
	i := 3
	for _, part := range [][]byte{p.TraceID[:], p.SpanID[:], {byte(p.Flags)}} {
		for _, c := range part {
			b[i], b[i+1] = hexDigits[c>>4], hexDigits[c&0x0f]
			i += 2
		}
		if i < textLen {
			b[i] = '-'
			i++
		}
	}
}

// String returns p as a traceparent header value.
func (p Parent) String() string {
	var b [textLen]byte
	p.put(&b)
	return string(b[:])
}

// NewSpanID returns a random span ID, never zero.
func NewSpanID() trace.SpanID {
	var id trace.SpanID
	for !id.IsValid() {
		v := rand.Uint64()
		for i := range id {
			id[i] = byte(v >> (8 * i))
		}
	}
	return id
}

// Text is room for one traceparent value within the carrier that sends
// it, so that writing the value allocates nothing. The zero value is
// ready; a Text must not be copied once used.
type Text struct {
	buf  [textLen]byte
	used bool
}

// Format returns p as a traceparent header value. The first call returns
// a string that shares t's memory, which is never written again: t is
// spent, and later calls allocate, so that no string handed out changes.
// Format is not safe for concurrent use.
func (t *Text) Format(p Parent) string {
	if t.used {
		return p.String()
	}
	t.used = true
	p.put(&t.buf)
	return unsafe.String(&t.buf[0], textLen)
}

// Writer is a carrier that keeps a [Text]: an observer writes a
// traceparent through it rather than through Set. The transports' attempt
// carriers implement it.
type Writer interface {
	SetParent(p Parent)
}

// Setter is the part of a carrier Inject needs.
type Setter interface {
	Set(key, value string)
}

// SetParent writes p into c as its traceparent, in c's own memory when c
// is a [Writer].
func SetParent(c Setter, p Parent) {
	if w, ok := c.(Writer); ok {
		w.SetParent(p)
		return
	}
	c.Set(ParentHeader, p.String())
}
