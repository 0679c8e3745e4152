package transport

import (
	"context"
	"io"
	"time"
)

// maxMirrors bounds the mirrored requests in flight from one router: when
// the mirror subset is slow, copies are dropped rather than piling up.
const maxMirrors = 64

// mirrorTimeout bounds one mirrored request.
const mirrorTimeout = 10 * time.Second

// mirror sends a copy of the call's request to an endpoint of subset and
// discards the answer. It never blocks the call: when too many copies are
// in flight, this one is dropped.
func (r *Router) mirror(d *destination, subset string, c *call) {
	picker := d.pickerFor(subset)
	if picker == nil {
		return
	}
	select {
	case r.mirrorSlots <- struct{}{}:
	default:
		r.logger.Debug("weft: mirror dropped: too many in flight", "service", d.service)
		return
	}
	ep, err := pick(d, picker, c.info)
	if err != nil {
		<-r.mirrorSlots
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.req.Context()), mirrorTimeout)
	out := c.out.Clone(ctx)
	out.URL.Host = ep.Addr
	out.Header.Set("Weft-Mirror", "1")
	if c.body != nil {
		out.Body = c.body.forTry()
	}
	r.mirrors.Add(1)
	go func() {
		defer r.mirrors.Done()
		defer func() { <-r.mirrorSlots }()
		defer cancel()
		resp, err := r.base.RoundTrip(out)
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
}
