package transport

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/weftmesh/weft/internal/engine"
	"github.com/weftmesh/weft/transport/observe"
)

// observedWriter is the ResponseWriter of an observed request: it notes
// the status sent and ends the observation.
type observedWriter struct {
	http.ResponseWriter
	obs      observe.InboundObserver
	ctx      context.Context // what StartInbound returned
	req      *http.Request   // the request as the handler gets it
	info     observe.InboundInfo
	status   int
	hijacked bool
}

// start tells o that r arrives at now and returns the request's context
// as the observer made it, perhaps in slot; the middleware sets w.req to
// the request the handler gets.
func (w *observedWriter) start(o observe.InboundObserver, rw http.ResponseWriter, r *http.Request, now time.Time, slot observe.TraceSlot) context.Context {
	w.ResponseWriter, w.obs = rw, o
	w.info = observe.InboundInfo{Protocol: observe.ProtocolHTTP, Method: r.Method, Path: r.URL.Path, Start: now, Carrier: observe.HeaderCarrier(r.Header), Trace: slot}
	w.ctx = o.StartInbound(r.Context(), &w.info)
	w.info.Carrier, w.info.Trace = nil, nil
	return w.ctx
}

// end tells the observer the request is over. It runs deferred, after the
// middleware replaced the asserted caller by the verified one.
func (w *observedWriter) end() {
	w.info.End = time.Now()
	w.info.Source = w.req.Header.Get(engine.SourceHeader)
	w.info.TLS = w.req.TLS
	switch {
	case w.status != 0:
		w.info.Status = w.status
	case w.hijacked:
		w.info.Status = http.StatusSwitchingProtocols
	default:
		// net/http answers 200 for a handler that wrote nothing.
		w.info.Status = http.StatusOK
	}
	w.obs.EndInbound(w.ctx, &w.info)
}

func (w *observedWriter) WriteHeader(code int) {
	// Informational answers (103 Early Hints) precede the real one.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *observedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// WriteString keeps the underlying writer's copy-free path for strings.
func (w *observedWriter) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.WriteString(w.ResponseWriter, s)
}

// ReadFrom keeps the underlying writer's sendfile path.
func (w *observedWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush sends buffered data, as the underlying writer's Flush does; it
// does nothing when that writer cannot flush.
func (w *observedWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over, when the underlying writer can.
func (w *observedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *observedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
