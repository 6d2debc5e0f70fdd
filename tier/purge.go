package tier

import (
	"sync"
	"time"
)

// purger rate-limits the purges that bus gaps ask for. A purge empties the
// local tier, so a burst of gaps (a flapping connection, an overflowing
// receive queue) would otherwise keep the hit ratio near zero. The first
// request purges at once; a request less than the interval after the last
// purge is not dropped but deferred to the end of the interval, and every
// request made until then is served by that one purge. A purge therefore
// always follows the last request, at most one interval late; meanwhile
// the local tier may serve copies that a missed event made stale, as it
// may anyway for up to LocalTTL while events are lost.
type purger struct {
	interval time.Duration
	purge    func()

	mu      sync.Mutex
	last    time.Time   // when the last purge started
	pending *time.Timer // the deferred purge, if one is scheduled
	stopped bool
	running sync.WaitGroup // a deferred purge scheduled or running
}

func (p *purger) init(interval time.Duration, purge func()) {
	p.interval, p.purge = interval, purge
}

// request asks for a purge.
func (p *purger) request() {
	p.mu.Lock()
	if p.stopped || p.pending != nil {
		p.mu.Unlock()
		return // a purge is already scheduled after this request
	}
	now := time.Now()
	if wait := p.last.Add(p.interval).Sub(now); wait > 0 {
		p.running.Add(1)
		p.pending = time.AfterFunc(wait, p.deferred)
		p.mu.Unlock()
		return
	}
	p.last = now
	p.mu.Unlock()
	p.purge()
}

// deferred runs a purge scheduled by request.
func (p *purger) deferred() {
	defer p.running.Done()
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.pending = nil
	p.last = time.Now()
	p.mu.Unlock()
	p.purge()
}

// stop cancels a deferred purge, or waits for one already running; later
// requests do nothing.
func (p *purger) stop() {
	p.mu.Lock()
	p.stopped = true
	if p.pending != nil && p.pending.Stop() {
		p.running.Done() // it will never run
	}
	p.mu.Unlock()
	p.running.Wait()
}
