package invalidation_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy forwards loopback TCP connections to a Redis server. freeze makes
// the connections open at that moment swallow everything in both
// directions while staying open, the way a dead network path looks to
// both ends; connections accepted later forward normally. setDown cuts
// every connection and turns new ones away until it is called again.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	pairs  []*proxyPair
	closed bool
	down   bool
}

// proxyPair is one client connection and its upstream connection.
type proxyPair struct {
	client, upstream net.Conn
	frozen           atomic.Bool
}

// startProxy listens on a free loopback port and forwards to target until
// the test ends.
func startProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// addr is where clients connect.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// accept runs until the listener closes.
func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pair := &proxyPair{client: c, upstream: u}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = u.Close()
			return
		}
		p.pairs = append(p.pairs, pair)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(pair, c, u)
		go p.pipe(pair, u, c)
	}
}

// pipe copies src to dst until either side closes, discarding the data
// once the pair is frozen.
func (p *proxy) pipe(pair *proxyPair, dst, src net.Conn) {
	defer p.wg.Done()
	defer pair.client.Close()
	defer pair.upstream.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pair.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze silences every connection open now.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pair := range p.pairs {
		pair.frozen.Store(true)
	}
}

// setDown cuts every open connection and refuses new ones while down.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, pair := range p.pairs {
			_ = pair.client.Close()
			_ = pair.upstream.Close()
		}
	}
}

// close stops accepting, closes every connection and waits for the
// forwarding goroutines.
func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, pair := range p.pairs {
		_ = pair.client.Close()
		_ = pair.upstream.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
