package invalidation

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Publish queues e for the publisher goroutine and returns at once. When
// the queue is full e is dropped, counted in Stats.Dropped, and Publish
// returns ErrDropped. ctx is not used: Publish never waits for Redis.
func (b *Redis) Publish(_ context.Context, e Event) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	if err := e.validate(); err != nil {
		return err
	}
	select {
	case b.queue <- e:
		return nil
	default:
		b.c.dropped.Add(1)
		return ErrDropped
	}
}

// queueDepth is the number of events waiting in the publish queue.
func (b *Redis) queueDepth() int { return len(b.queue) }

// publisher is the state of the publish goroutine: the batch being sent,
// the events whose PUBLISH failed and will be sent again, the signer and
// scratch space for the messages.
type publisher struct {
	b       *Redis
	sign    *signer
	batch   []Event
	pending []Event
	buf     []byte
	backoff time.Duration
}

// publishLoop sends queued events until Close, then flushes the queue.
//
// A batch that fails (Redis down, a broken connection the client's own
// retries did not fix) is sent again after a backoff, before any newer
// event, until it goes through. Meanwhile the queue fills and Publish
// drops, so callers never wait. Retrying matters after an outage: a
// subscriber that re-subscribed has purged once, and an invalidation
// published after that purge must still reach it.
func (b *Redis) publishLoop() {
	defer b.wg.Done()
	p := &publisher{b: b, sign: b.keys.newSigner(), batch: make([]Event, 0, b.opts.BatchSize)}
	for {
		// Once Close has spoken, the rest of the queue is the flush's.
		select {
		case <-b.stop:
			p.flush()
			return
		default:
		}
		if len(p.pending) == 0 {
			select {
			case e := <-b.queue:
				p.pending = append(p.pending, e)
			case <-b.stop:
				p.flush()
				return
			}
		}
		if !p.sendOnce(context.Background(), b.stop) {
			p.flush()
			return
		}
	}
}

// sendOnce sends the pending events topped up from the queue. After a
// failure it waits for the backoff; it returns false if done closes
// meanwhile.
func (p *publisher) sendOnce(ctx context.Context, done <-chan struct{}) bool {
	p.batch = p.b.fill(append(p.batch[:0], p.pending...))
	p.pending = p.send(ctx, p.batch, p.pending[:0])
	if len(p.pending) == 0 {
		p.backoff = 0
		return true
	}
	p.backoff = nextBackoff(p.backoff)
	t := time.NewTimer(p.backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	case <-ctx.Done():
		return false
	}
}

// fill appends queued events to batch, without waiting, up to BatchSize.
func (b *Redis) fill(batch []Event) []Event {
	for len(batch) < b.opts.BatchSize {
		select {
		case e := <-b.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// flush sends what is pending or queued once Close has stopped Publish,
// retrying within FlushTimeout; what is left then is dropped and counted.
func (p *publisher) flush() {
	b := p.b
	if b.opts.FlushTimeout >= 0 {
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.FlushTimeout)
		defer cancel()
		for len(p.pending) > 0 || len(b.queue) > 0 {
			if !p.sendOnce(ctx, nil) {
				break
			}
		}
	}
	b.c.dropped.Add(uint64(len(p.pending) + len(b.queue)))
}

// send publishes batch in one pipeline, counts the outcome of each event
// and returns failed, extended with the events to send again, in order.
func (p *publisher) send(ctx context.Context, batch, failed []Event) []Event {
	b := p.b
	if ctx.Err() != nil {
		b.c.publishErrors.Add(uint64(len(batch)))
		return append(failed, batch...)
	}
	buf := p.buf[:0]
	cmds, err := b.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, e := range batch {
			start := len(buf)
			// Events were validated by Publish, so this cannot fail. A
			// reallocation of buf leaves earlier payloads in the old array,
			// which stays alive until the pipeline has written them.
			buf, _ = p.sign.appendMessage(buf, e)
			pipe.Publish(ctx, b.opts.Channel, buf[start:len(buf):len(buf)])
		}
		return nil
	})
	p.buf = buf
	if len(cmds) != len(batch) {
		// The pipeline did not report per-command results.
		if err != nil {
			b.c.publishErrors.Add(uint64(len(batch)))
			return append(failed, batch...)
		}
		b.c.published.Add(uint64(len(batch)))
		return failed
	}
	for i, cmd := range cmds {
		if cmd.Err() != nil {
			b.c.publishErrors.Add(1)
			failed = append(failed, batch[i])
		} else {
			b.c.published.Add(1)
		}
	}
	return failed
}

// nextBackoff doubles d within [minBackoff, maxBackoff].
func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, minBackoff), maxBackoff)
}
