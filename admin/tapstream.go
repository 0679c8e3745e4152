package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/weftmesh/weft/admin/tap"
)

// serveTap streams the node's requests as server-sent events: an "hello"
// event naming the node, then one unnamed event per request (a JSON
// [tap.Event]) and, each second the count changed, a "dropped" event with
// the events dropped so far. Query parameters: the [tap.Filter] fields in
// lowercase, and rate (events per second).
func (s *Server) serveTap(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Tap == nil {
		http.NotFound(w, r)
		return
	}
	f, err := tap.ParseFilter(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var perSecond float64
	if v := r.URL.Query().Get("rate"); v != "" {
		if perSecond, err = strconv.ParseFloat(v, 64); err != nil || perSecond <= 0 {
			http.Error(w, fmt.Sprintf("tap: rate %q: write events per second, up to %d", v, tap.MaxRate), http.StatusBadRequest)
			return
		}
	}
	rc := http.NewResponseController(w)
	sub := s.cfg.Tap.Subscribe(f, perSecond)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	hello, _ := json.Marshal(map[string]string{"node": s.cfg.NodeName})
	fmt.Fprintf(w, "event: hello\ndata: %s\n\n", hello)
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var reported uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-sub.Events():
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "data: %s\n\n", b)
			// Send what else is waiting before flushing.
			for more := true; more; {
				select {
				case e := <-sub.Events():
					b, _ := json.Marshal(e)
					fmt.Fprintf(w, "data: %s\n\n", b)
				default:
					more = false
				}
			}
		case <-tick.C:
			if d := sub.Dropped(); d != reported {
				reported = d
				fmt.Fprintf(w, "event: dropped\ndata: %d\n\n", d)
			} else {
				fmt.Fprint(w, ": keep-alive\n\n")
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
