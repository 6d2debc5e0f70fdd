package bench

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/tier"
)

// The systems' names, as they appear in the table and the report.
const (
	SystemRemoteOnly = "remote-only"
	SystemTiered     = "tiered-1"
	SystemRedis      = "redis"
)

// tieredName is the name of the tiered system with n nodes.
func tieredName(n int) string { return fmt.Sprintf("tiered-%d", n) }

// Interface checks: every system offers the workload the same methods.
var (
	_ sessionStore = (*tier.Store)(nil)
	_ sessionStore = remoteOnly{}
	_ sessionStore = (*redisStore)(nil)
)

// newRemoteOnly is the baseline system: every request goes to the remote.
func newRemoteOnly(m *Meter, remoteName string) *system {
	return &system{
		name:        SystemRemoteOnly,
		description: "reads and writes " + remoteName + " on every request (what a DynamoDB session store does)",
		nodes:       []sessionStore{remoteOnly{r: m}},
		counts:      m.Counts,
		dynamo:      true,
		close:       func() error { return nil },
	}
}

// busFactory gives each node of a tiered system its bus; the returned
// close function releases what the factory created for that node.
type busFactory func() (invalidation.Bus, func() error, error)

// localBus returns a factory whose nodes all share one in-process bus.
func localBus() (busFactory, func() error) {
	bus := invalidation.NewLocal(invalidation.LocalOptions{})
	return func() (invalidation.Bus, func() error, error) {
		return bus, func() error { return nil }, nil
	}, bus.Close
}

// redisBus returns a factory that gives each node its own Redis bus (as
// separate processes would have) on client, all on one channel unique to
// this run and signing with one key made for it.
func redisBus(client *redis.Client) busFactory {
	var b [8]byte
	_, _ = rand.Read(b[:])
	channel := "tierbench-invalidation-" + hex.EncodeToString(b[:])
	key := invalidation.Key{ID: "tierbench", Secret: make([]byte, invalidation.MinSecretLen)}
	_, _ = rand.Read(key.Secret)
	return func() (invalidation.Bus, func() error, error) {
		bus, err := invalidation.NewRedis(client, invalidation.RedisOptions{Channel: channel, Keys: []invalidation.Key{key}})
		if err != nil {
			return nil, nil, err
		}
		return bus, bus.Close, nil
	}
}

// newTiered builds a tiered system of n nodes over m, each with its own
// local tier of the given capacity. With more than one node, buses must
// be set; the nodes then tell each other about writes.
func newTiered(name, description string, m *Meter, n, capacity int, opts tier.Options, buses busFactory) (*system, error) {
	sys := &system{name: name, description: description, counts: m.Counts, dynamo: true}
	var stores []*tier.Store
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for _, s := range stores {
			errs = append(errs, s.Close())
		}
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	for range n {
		o := opts
		o.LocalCapacity = capacity
		if buses != nil && n > 1 {
			bus, closeBus, err := buses()
			if err != nil {
				return nil, errors.Join(err, closeAll())
			}
			closers = append(closers, closeBus)
			o.Bus = bus
		}
		st, err := tier.New(m, o)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("bench: tiered node: %w", err), closeAll())
		}
		stores = append(stores, st)
		sys.nodes = append(sys.nodes, st)
	}
	sys.local = func() (hits, misses int64) {
		for _, s := range stores {
			st := s.Stats()
			// A cached "not found" answers without a remote read: a hit.
			hits += int64(st.LocalHits + st.LocalNegativeHits)
			misses += int64(st.LocalMisses)
		}
		return hits, misses
	}
	sys.warm = func() bool {
		for _, s := range stores {
			// Shards fill unevenly; 95% full is as full as they get.
			if st := s.Stats(); st.LocalEntries < capacity*95/100 {
				return false
			}
		}
		return true
	}
	sys.close = closeAll
	return sys, nil
}

// newRedisSystem is the Redis session store system on s, whose sessions
// the preload wrote; Run deletes them when it ends. note, when set, is
// added to its description.
func newRedisSystem(s *redisStore, note string) *system {
	desc := "every session in Redis: HMGET per read, Lua version check per write"
	if note != "" {
		desc += " (" + note + ")"
	}
	return &system{
		name:        SystemRedis,
		description: desc,
		nodes:       []sessionStore{s},
		counts:      s.counts,
		close:       func() error { return nil },
	}
}

// tierOptions are the options every tiered node of a run gets.
func tierOptions(c Config) tier.Options {
	return tier.Options{LocalTTL: c.LocalTTL}
}
