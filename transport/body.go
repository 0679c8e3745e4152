package transport

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// requestBody gives each try of a call the request's body.
//
// A body of up to maxReplayBody bytes is read into memory when the call may
// be sent more than once, so every try (and a mirrored copy) reads its own
// copy. A larger body, or one that needs no replay, is streamed: it can be
// sent again only after a connection failure, which happens before the
// transport reads any of it.
type requestBody struct {
	buf      []byte // the whole body, when buffered
	buffered bool
	stream   *streamBody // when not buffered
}

// newReplayBody prepares req's body; nil when the request has none.
func newReplayBody(req *http.Request, replay bool) (*requestBody, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if !replay {
		return &requestBody{stream: &streamBody{rc: req.Body}}, nil
	}
	head, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
	if err != nil {
		req.Body.Close()
		return nil, err
	}
	if len(head) <= maxReplayBody {
		req.Body.Close()
		return &requestBody{buf: head, buffered: true}, nil
	}
	rest := req.Body
	return &requestBody{stream: &streamBody{rc: readCloser{io.MultiReader(bytes.NewReader(head), rest), rest}}}, nil
}

// forTry returns the body to send with the next try.
func (b *requestBody) forTry() io.ReadCloser {
	if b.buffered {
		return io.NopCloser(bytes.NewReader(b.buf))
	}
	return b.stream
}

// replayable reports whether the body can be sent again whatever happened
// to an earlier try. A nil body always can.
func (b *requestBody) replayable() bool { return b == nil || b.buffered }

// rewind prepares the body for another try, reporting whether it can be
// sent again.
func (b *requestBody) rewind() bool {
	if b == nil || b.buffered {
		return true
	}
	return b.stream.rewind()
}

// release hands a streamed body to the transport for good.
func (b *requestBody) release() {
	if b != nil && b.stream != nil {
		b.stream.release()
	}
}

// abandon closes a streamed body when the call fails.
func (b *requestBody) abandon() {
	if b != nil && b.stream != nil {
		b.stream.abandon()
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// streamBody is a body sent as it is read. The transport closes a request
// body when it has finished with it, which for a successful try may happen
// on its writer goroutine after RoundTrip returned; until release, Close is
// deferred so that the body survives a connection failure to the next try.
type streamBody struct {
	mu       sync.Mutex
	rc       io.ReadCloser
	read     bool
	released bool // Close now closes rc
	closed   bool // Close was called
}

func (b *streamBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	b.read = true
	rc := b.rc
	b.mu.Unlock()
	return rc.Read(p)
}

func (b *streamBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.released {
		return b.rc.Close()
	}
	return nil
}

func (b *streamBody) rewind() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.read {
		return false
	}
	b.closed = false
	return true
}

func (b *streamBody) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = true
	if b.closed {
		b.rc.Close()
	}
}

func (b *streamBody) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.released = true
	b.rc.Close()
}
