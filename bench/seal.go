package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/seal"
)

// SealPayload is a realistic size, in bytes, for the JSON sessions of the
// sealing comparison (Config.Seal): a logged-in shop session with a cart,
// an OAuth token and a browsing history, like
// remote/seal/testdata/session.json (2999 bytes).
const SealPayload = 3000

// sealArm is one system of the sealing comparison.
type sealArm struct {
	name, description string
	meter             *Meter
	store             remote.Store // what the system reads and writes
	set               sessionSet
}

// sealArmKey is the storage key of session i of the arm named arm: like
// SessionKey (43 characters), but distinct per arm, so that both arms can
// share one table without reading each other's items.
func sealArmKey(arm string, i int) string {
	sum := sha256.Sum256([]byte("tierbench-" + arm + "-session-" + strconv.Itoa(i)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// runSeal is Run for Config.Seal: it preloads the same JSON sessions
// twice, under distinct keys, once stored uncompressed and once sealed
// with zstd (both encrypted with c.SealEncrypt), and measures the
// remote-only system on each. A NewSizingMeter sits between each
// system's store and the remote, so each request is billed by the size
// of the item as stored.
func runSeal(ctx context.Context, c Config, w Workload, chooser KeyChooser) (*Report, error) {
	var modelOn atomic.Bool
	inner := newRemote(c, &modelOn)
	var keys seal.KeyProvider
	crypt := ""
	if c.SealEncrypt {
		secret := make([]byte, seal.KeySize)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("bench: seal key: %w", err)
		}
		kr, err := seal.NewKeyring(seal.Key{ID: "tierbench", Secret: secret})
		if err != nil {
			return nil, fmt.Errorf("bench: seal key: %w", err)
		}
		keys, crypt = kr, "+aes"
	}
	base := time.Now()
	newArm := func(name, description string, opts *seal.Options) (*sealArm, error) {
		a := &sealArm{name: name, description: description, meter: NewSizingMeter(inner, c.ConsistentRead)}
		a.store = a.meter
		if opts != nil {
			s, err := seal.New(a.meter, *opts)
			if err != nil {
				return nil, fmt.Errorf("bench: %s: %w", name, err)
			}
			a.store = s
		}
		a.set = newSessionSet(c.Sessions, c.Payload, c.Seed, base)
		a.set.json = true
		for i := range a.set.keys {
			a.set.keys[i] = sealArmKey(name, i)
		}
		return a, nil
	}
	var plainOpts *seal.Options
	plainDesc := "JSON stored as it is"
	if keys != nil {
		plainOpts = &seal.Options{Keys: keys, DisableCompression: true}
		plainDesc = "sealed with AES-256-GCM, uncompressed (seal.Options{DisableCompression: true})"
	}
	packedDesc := "sealed with zstd (seal.New's default)"
	if keys != nil {
		packedDesc = "sealed with zstd, then AES-256-GCM (seal.New's default with Keys)"
	}
	plain, err := newArm(SystemRemoteOnly+"/plain"+crypt, "remote-only on "+c.RemoteName+"; "+plainDesc, plainOpts)
	if err != nil {
		return nil, err
	}
	packed, err := newArm(SystemRemoteOnly+"/zstd"+crypt, "remote-only on "+c.RemoteName+"; "+packedDesc, &seal.Options{Keys: keys})
	if err != nil {
		return nil, err
	}
	arms := []*sealArm{plain, packed}

	cost := NewCostModel(c.Prices, len(plain.set.keys[0]), c.Payload, c.ConsistentRead)
	rep := newReport(c, w, chooser, cost, capacity(c.Sessions, c.LocalFraction), false)
	rep.Config.Seal = fmt.Sprintf("remote-only with items stored uncompressed vs compressed with zstd%s, on JSON sessions of %d bytes",
		map[bool]string{true: " (both encrypted with AES-256-GCM)", false: ""}[keys != nil], c.Payload)
	ph := &phases{progress: c.Progress, steps: 1 + len(arms)}
	stop := func(err error) (*Report, error) {
		compare(rep.Systems)
		rep.Complete, rep.StoppedDuring = false, ph.name
		return rep, err
	}

	tick := ph.begin("preload")
	var done atomic.Int64
	total := int64(len(arms) * c.Sessions)
	g, gctx := errgroup.WithContext(ctx)
	for _, a := range arms {
		g.Go(func() error {
			var last int64
			return preload(gctx, a.store, a.set, max(1, c.PreloadConcurrency/len(arms)), func(n int64) {
				done.Add(n - last)
				last = n
			})
		})
	}
	g.Go(func() error {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			n := done.Load()
			tick(float64(n)/float64(total), n)
			if n >= total {
				return nil
			}
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	if err := g.Wait(); err != nil {
		return stop(err)
	}
	modelOn.Store(true)
	ph.end(fmt.Sprintf("%d JSON sessions of %d bytes in %s, %d times", c.Sessions, c.Payload, c.RemoteName, len(arms)))

	for _, a := range arms {
		sys := &system{
			name: a.name, description: a.description,
			nodes:  []sessionStore{remoteOnly{r: a.store}},
			counts: a.meter.Counts, dynamo: true,
			close: func() error { return nil },
		}
		params := runParams{
			workload: w, keys: chooser, sessionKeys: a.set.keys, concurrency: c.Concurrency,
			warmup: c.Warmup, duration: c.Duration, maxOps: c.MaxOps, seed: c.Seed, jsonPayload: true,
		}
		res, _, err := runSystem(ctx, ph, sys, params, cost)
		if err != nil {
			return stop(err)
		}
		rep.Systems = append(rep.Systems, res)
	}
	compare(rep.Systems)
	rep.Complete = true
	return rep, nil
}
