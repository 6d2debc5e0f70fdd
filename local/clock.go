package local

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// clock is the cache's time source in Unix nanoseconds.
//
// By default it is coarse: a goroutine stores time.Now every
// ClockResolution and a read is one atomic load of a cache line that
// changes once per tick, so the hot path never calls time.Now (about 38ns
// on the reference machine, as much as the whole hit budget). With an
// injected Now, or after stop, nanos stays 0 and reads call the slow path.
// A reading lags the real time by up to one tick, which the cache's expiry
// slack covers, and by more while the process is starved of CPU and the
// ticker is not scheduled: then an entry can be served that long past its
// ExpiresAt.
type clock struct {
	_     [cacheLine]byte // keep the ticking word off the cache's read-only fields
	nanos atomic.Int64    // last tick, or 0 when there is no ticker
	_     [cacheLine - 8]byte

	now  func() time.Time // injected clock, or nil
	stop chan struct{}    // closed by close to stop the ticker
	done chan struct{}    // closed by the ticker goroutine when it returns
	once sync.Once
}

// cacheLine is the padding unit that keeps concurrently written words
// apart. Lines are 64 bytes on amd64, but Intel's adjacent-line prefetcher
// moves them in aligned pairs, so words 64 bytes apart still bounce
// between cores (measured here: two goroutines whose counter stripes were
// neighbours ran a parallel hit at twice the cost); 128 bytes also covers
// the 128-byte lines of Apple's arm64 cores.
const cacheLine = 128

// start makes c tick every resolution, or use now when it is not nil.
func (c *clock) start(now func() time.Time, resolution time.Duration) {
	c.now = now
	if now != nil {
		return
	}
	c.nanos.Store(time.Now().UnixNano())
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	go c.tick(resolution)
}

// tick is the ticker goroutine: it refreshes nanos until stop is closed.
func (c *clock) tick(resolution time.Duration) {
	defer close(c.done)
	t := time.NewTicker(resolution)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.nanos.Store(time.Now().UnixNano())
		}
	}
}

// read returns the current time in Unix nanoseconds.
func (c *clock) read() int64 {
	if n := c.nanos.Load(); n != 0 {
		return n
	}
	return c.slow()
}

// slow reads the injected clock, or the precise time once the ticker has
// stopped, so a closed cache still expires its entries.
func (c *clock) slow() int64 {
	if c.now != nil {
		return unixNanos(c.now())
	}
	return time.Now().UnixNano()
}

// close stops the ticker goroutine and waits until it has returned. It is
// safe to call more than once and on a clock without a ticker.
func (c *clock) close() {
	c.once.Do(func() {
		if c.stop == nil {
			return
		}
		close(c.stop)
		<-c.done
		c.nanos.Store(0)
	})
}

// unixNanos is t.UnixNano saturated to the int64 range, so that the zero
// time and far-future times compare correctly instead of wrapping.
func unixNanos(t time.Time) int64 {
	return saturatedNanos(t.Unix(), int64(t.Nanosecond()))
}

// saturatedNanos returns sec seconds and nsec nanoseconds after the Unix
// epoch in nanoseconds, saturated to the int64 range.
func saturatedNanos(sec, nsec int64) int64 {
	const limit = math.MaxInt64 / int64(time.Second)
	switch {
	case sec <= -limit:
		return math.MinInt64
	case sec >= limit:
		return math.MaxInt64
	}
	return sec*int64(time.Second) + nsec
}

// addNanos returns t+d, saturated at math.MaxInt64.
func addNanos(t int64, d time.Duration) int64 {
	if s := t + int64(d); s >= t {
		return s
	}
	return math.MaxInt64
}
