// Package bench is tiersession's whole-system harness: it runs YCSB-style
// session workloads against a tiered store and against what a user would
// pick instead, side by side, on the same remote and the same request
// sequence, and reports throughput, latency percentiles, local hit ratio,
// remote traffic and the DynamoDB bill that traffic implies. The command
// cmd/tierbench is its front end; `go test -bench` stays the place for
// microbenchmarks of single calls.
//
// # Systems
//
//   - remote-only: every request reads the remote, every write goes to it
//     with a version check. This is what today's DynamoDB session stores
//     do, and the baseline every ratio is taken against.
//   - tiered-1: one tier.Store, its local tier holding Config.LocalFraction
//     of the sessions.
//   - tiered-N: N tier.Stores sharing the remote, each with its own local
//     tier, told about each other's writes by an invalidation bus (in
//     process, or Redis when an address is given). Each request goes to a
//     node drawn at random, as behind a load balancer without sticky
//     sessions, so a hot session is cached N times and written from
//     everywhere.
//   - redis (with a Redis address): every session in Redis, one HMGET per
//     read and a Lua script that checks the version per write.
//     StartRedisServer starts a throwaway redis-server for a run, which is
//     what cmd/tierbench does by default when one is on PATH.
//
// All systems run the same request code over the same method set (Get,
// Save, Update, Touch) and keep the same no-lost-update rule, so the only
// difference measured is where the reads are answered.
//
// # Workloads
//
// A (50% read, 50% update), B (95/5), C (read only), F (50% read, 50%
// read-modify-write) and "web" (every request reads its session, 10% also
// write it, 5% renew its expiry). An update is a read followed by a
// version-checked write of a new payload; a lost version check is counted
// as a conflict and not retried, like a failed YCSB update. A
// read-modify-write runs the store's optimistic loop, which retries. Keys
// are scrambled zipfian (YCSB's generator and FNV scramble, constant 0.99
// by default) or uniform. Each worker draws from its own random stream,
// seeded by (seed, worker number), so a run is reproducible request by
// request and every system sees the same sequence.
//
// # Measurement
//
// The preload fills the remote (and Redis, at the same time) before any
// system runs, without the latency model: it sets the stage and is not
// measured. Workers are closed loops: Config.Concurrency of them (at most
// MaxConcurrency) each issue a request, wait for it, and issue the next.
// Before recording, each system
// warms up (Config.Warmup, and for tiered systems until their local tiers
// are full or one local TTL has passed), so it is measured in its steady
// state rather than from a cold cache. Latency goes into one HdrHistogram
// per worker (1 ns to 10 min, 3 significant digits), merged at the end.
// Recording stops at Config.Duration or after Config.MaxOps requests,
// whichever comes first.
//
// Remote reads and writes are counted by a wrapper around the remote
// (Meter), exactly and the same way for every system. They are billed as
// DynamoDB bills them (CostModel.Bill): a conditional write whose check
// fails still costs write units, sized by the item already stored; the
// tier's reload after a conflict is a strongly consistent read, at the
// full read unit. The local hit ratio is the tier's own count: hits
// (including remembered "not found") over hits plus misses. The sweep
// point at the one-node tiered system's own capacity reuses that
// system's measurement.
//
// Each sweep point is also replayed, after it is measured, through exact
// LRU and W-TinyLFU (otter) of the same capacity, with no expiry
// (internal/hitsim): the requests are drawn again from the run's seed
// with the counts each client drew and recorded, so they are the very
// requests the point issued, and only the interleaving of the clients is
// rebuilt (evenly, within the warm-up and within the measured window).
// The report shows the two simulated hit ratios beside the measured one.
//
// Where the tail comes from: every recorded request is also put in a
// class by how it was answered, each with its own histogram: a local
// hit, a remote read of its own, a miss that waited on another request's
// load of the same key (the tier's singleflight), or a write (update,
// read-modify-write, touch: the whole request). Reads are told apart by
// a probe in the request's context, which the Meter marks and which the
// tier only consults on a miss (see tail.go). The report gives each
// class's percentiles and its part of the system's slowest 1%, and what
// the garbage collector did in the window (cycles, pause total and
// longest pause, GC CPU).
//
// When its context ends (an interrupt) or a phase fails, Run returns the
// report of the phases finished so far, marked incomplete, so that a
// long run's results are not thrown away.
//
// # Sealing comparison
//
// Config.Seal replaces the systems with two remote-only ones over the same
// remote, on JSON sessions of Config.Payload bytes (SealPayload is a
// realistic size): items stored uncompressed, and sealed with zstd by
// remote/seal (Config.SealEncrypt encrypts both). A NewSizingMeter between
// each seal.Store and the remote bills every request by the size of the
// item as stored, so the report's bills are those of the sealed items.
//
// # The latency model
//
// With no remote given, the remote is remote.Memory behind a Meter that
// sleeps, before each call, for a lognormal time: reads median 3 ms, p99
// 10 ms; writes median 5 ms, p99 15 ms (DefaultLatencyModel, a model of an
// in-region DynamoDB call, not a measurement). The sleep stands for the
// network round trip. Point the harness at a real endpoint to measure the
// real thing.
//
// # Trade-offs
//
// The harness measures a whole system on one machine: the load generator
// shares the CPU with the stores under test, so on a small machine the
// tiered systems' throughput is bounded by the harness's own work, and the
// far tails (p99.9) move with whatever else runs on the machine. Ratios
// taken within one run are the figures to trust; absolute numbers belong
// to the machine that produced them.
package bench
