package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/tiersession/tiersession/remote"
)

// redisKeyPrefix namespaces the sessions this harness writes into a Redis
// it was pointed at; they are deleted again when the run ends.
const redisKeyPrefix = "tierbench:"

// saveScript is a version-checked write: it stores the new version only if
// the stored one is ARGV[1]. It returns 0 on success, -1 when the session
// is absent, and otherwise the stored version (a conflict).
var saveScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then return -1 end
if cur ~= ARGV[1] then return tonumber(cur) end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'e', ARGV[4])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 0
`)

// touchScript moves the expiry later (never earlier) and returns the
// stored version, or -1 when the session is absent.
var touchScript = redis.NewScript(`
local e = redis.call('HGET', KEYS[1], 'e')
if not e then return -1 end
if tonumber(ARGV[1]) > tonumber(e) then
  redis.call('HSET', KEYS[1], 'e', ARGV[1])
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
return tonumber(redis.call('HGET', KEYS[1], 'v'))
`)

// redisStore is the usual alternative to a tiered store: every session in
// Redis, read with one HMGET per request and written with a Lua script that
// checks the version, so it has the same no-lost-update guarantee as the
// other systems. Each session is a hash {v: version, d: data, e: expiry in
// epoch seconds} with the key's own expiry set to e.
type redisStore struct {
	c *redis.Client

	reads     atomic.Int64
	writes    atomic.Int64
	conflicts atomic.Int64
}

var _ sessionStore = (*redisStore)(nil)

// counts returns the Redis requests made so far, in the terms used for
// the remote.
func (s *redisStore) counts() RemoteCounts {
	return RemoteCounts{Reads: s.reads.Load(), Writes: s.writes.Load(), Conflicts: s.conflicts.Load()}
}

// Get reads the session hash.
func (s *redisStore) Get(ctx context.Context, key string) (remote.Record, bool, error) {
	s.reads.Add(1)
	markRemoteRead(ctx)
	vals, err := s.c.HMGet(ctx, redisKeyPrefix+key, "v", "d", "e").Result()
	if err != nil {
		return remote.Record{}, false, fmt.Errorf("bench: redis get: %w", err)
	}
	if len(vals) != 3 || vals[0] == nil {
		return remote.Record{}, false, nil
	}
	vs, _ := vals[0].(string)
	ds, _ := vals[1].(string)
	es, _ := vals[2].(string)
	ver, err1 := strconv.ParseUint(vs, 10, 64)
	exp, err2 := strconv.ParseInt(es, 10, 64)
	if err1 != nil || err2 != nil {
		return remote.Record{}, false, fmt.Errorf("bench: redis session %q: %w", key, remote.ErrCorrupt)
	}
	return remote.Record{Key: key, Data: []byte(ds), Version: ver, ExpiresAt: time.Unix(exp, 0)}, true, nil
}

// Save runs the version-checked write script.
func (s *redisStore) Save(ctx context.Context, rec remote.Record) (remote.Record, error) {
	s.writes.Add(1)
	exp := rec.ExpiresAt.Unix()
	res, err := saveScript.Run(ctx, s.c, []string{redisKeyPrefix + rec.Key},
		rec.Version, rec.Version+1, rec.Data, exp).Int64()
	if err != nil {
		return remote.Record{}, fmt.Errorf("bench: redis save: %w", err)
	}
	switch {
	case res == -1:
		return remote.Record{}, fmt.Errorf("bench: redis save %q: %w", rec.Key, remote.ErrNotFound)
	case res != 0:
		s.conflicts.Add(1)
		return remote.Record{}, &remote.ConflictError{Expected: rec.Version, Current: uint64(res)}
	}
	out := rec
	out.Version = rec.Version + 1
	out.ExpiresAt = time.Unix(exp, 0)
	return out, nil
}

// Update is the optimistic read-modify-write loop over Get and Save.
func (s *redisStore) Update(ctx context.Context, key string, fn func(remote.Record) (remote.Record, error)) (remote.Record, error) {
	return updateLoop(ctx, key, s.Get, s.Save, fn)
}

// Touch runs the expiry script. The returned record carries the key,
// version and requested expiry but no data: the workload never reads it.
func (s *redisStore) Touch(ctx context.Context, key string, expiresAt time.Time) (remote.Record, error) {
	s.writes.Add(1)
	ver, err := touchScript.Run(ctx, s.c, []string{redisKeyPrefix + key}, expiresAt.Unix()).Int64()
	if err != nil {
		return remote.Record{}, fmt.Errorf("bench: redis touch: %w", err)
	}
	if ver < 0 {
		return remote.Record{}, fmt.Errorf("bench: redis touch %q: %w", key, remote.ErrNotFound)
	}
	return remote.Record{Key: key, Version: uint64(ver), ExpiresAt: time.Unix(expiresAt.Unix(), 0)}, nil
}

// redisBatch is how many commands one preload or cleanup pipeline sends.
const redisBatch = 1000

// redisLoaders is how many pipelines preload keeps in flight.
const redisLoaders = 4

// preload writes version 1 of every session in pipelines, with the data
// and expiry (epoch seconds) the remote got.
func (s *redisStore) preload(ctx context.Context, keys []string, data func(int) []byte, exp func(int) int64) error {
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range redisLoaders {
		g.Go(func() error {
			for {
				start := int(next.Add(redisBatch) - redisBatch)
				if start >= len(keys) || ctx.Err() != nil {
					return ctx.Err()
				}
				pipe := s.c.Pipeline()
				for i := start; i < min(start+redisBatch, len(keys)); i++ {
					k, e := redisKeyPrefix+keys[i], exp(i)
					pipe.HSet(ctx, k, "v", 1, "d", data(i), "e", e)
					pipe.ExpireAt(ctx, k, time.Unix(e, 0))
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return fmt.Errorf("bench: redis preload: %w", err)
				}
			}
		})
	}
	return g.Wait()
}

// cleanup deletes the sessions the run wrote.
func (s *redisStore) cleanup(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += redisBatch {
		end := min(start+redisBatch, len(keys))
		ks := make([]string, 0, end-start)
		for _, k := range keys[start:end] {
			ks = append(ks, redisKeyPrefix+k)
		}
		if err := s.c.Del(ctx, ks...).Err(); err != nil {
			return fmt.Errorf("bench: redis cleanup: %w", err)
		}
	}
	return nil
}
