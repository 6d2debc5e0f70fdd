// Package webbench measures session middlewares end to end, through real
// loopback HTTP: an httptest server, a keep-alive client, several requests
// in flight, and a session hit on every request (the session exists, the
// handler reads one value, nothing is written). It compares
//
//   - plain: the handler alone, no sessions (the floor);
//   - httpsession: package httpsession over tiersession.Open on the
//     in-memory remote (a hit is a local-tier hit);
//   - scs-memstore: alexedwards/scs with its in-process memstore;
//   - scs-redisstore: scs with its redisstore on a real redis-server over
//     loopback (a hit is one Redis GET);
//   - scs-tier: scs with package scsstore over the same tiersession store.
//
// Each sub-benchmark reports ns/op (wall time per request across all
// clients, so 1e9/ns/op is the throughput), req/s, the p50 and p99 of the
// request latency seen by the client, x-plain (its ns/op over plain's in
// the same run), cpu-us/op (the CPU time the process spent per request,
// client and server together) and cpu-x-plain (that over plain's), and, on
// the tier stores, remote/op (0: every hit is served by the local tier).
// Allocations and CPU time count the client's as well as the server's; the
// client is the same for every system. Client and server share the
// machine's cores, so loopback HTTP is most of plain's cost and the tail
// latencies are mostly scheduling. Wall-clock figures move with whatever
// else the machine runs; CPU time per request much less so: on a shared
// machine, compare cpu-x-plain.
//
// The package holds only tests: go test runs each system for a few
// requests and checks that a hit reads the value without writing;
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/webbench/
//
// measures. The redis-server one needs redis-server on PATH (skipped
// without it, failed under CI=true).
package webbench
