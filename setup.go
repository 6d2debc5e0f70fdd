package tiersession

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tiersession/tiersession/invalidation"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/seal"
	"github.com/tiersession/tiersession/tier"
)

// Config is what Open needs. The zero value opens a single-node store on
// the in-memory remote, for development and tests.
type Config struct {
	// Table is the DynamoDB table that holds the sessions. Default: "",
	// the in-memory remote: sessions live in this process only and are
	// lost when it exits. Never use that in production.
	Table string
	// Region is the AWS region of the table. Default: the standard AWS
	// configuration (AWS_REGION, the shared config file, ...).
	Region string
	// Endpoint replaces the DynamoDB endpoint, for DynamoDB Local or
	// dynalite (e.g. "http://127.0.0.1:8000"). Default: the standard
	// configuration, which honours AWS_ENDPOINT_URL_DYNAMODB, else AWS.
	Endpoint string
	// AWS, when set, is used as the AWS configuration instead of loading
	// the standard one (credentials chain, region, retries). Region and
	// Endpoint still apply on top of it. Default: nil, load the standard
	// configuration with aws-sdk-go-v2/config.
	AWS *aws.Config
	// EnsureTable creates the table (on-demand capacity, TTL on "exp") if
	// it does not exist, and waits until it is ready. Default: false, the
	// table must exist.
	EnsureTable bool
	// ConsistentRead makes remote reads strongly consistent (see
	// remote.DynamoOptions). Default: false.
	ConsistentRead bool
	// OwnerIndex turns owners on for the DynamoDB table ("log out
	// everywhere", a list of a user's sessions: see tier.Store.DestroyAll)
	// and names its owner index, e.g. remote.DefaultOwnerIndex; with
	// EnsureTable it is created. Default: "", no owners on DynamoDB (the
	// in-memory remote always has them).
	OwnerIndex string
	// KMSKeyID, DeletionProtection and PointInTimeRecovery are applied by
	// EnsureTable (see remote.DynamoOptions): server-side encryption with
	// a customer KMS key when it creates the table, deletion protection,
	// continuous backups. Default: off, nothing is requested.
	KMSKeyID            string
	DeletionProtection  bool
	PointInTimeRecovery bool
	// Seal, when set, compresses and (with Seal.Keys) encrypts session
	// data on its way to DynamoDB (see package remote/seal); the local
	// tier keeps plaintext, so a hit pays nothing. Default: nil, data is
	// stored as the application gives it.
	Seal *seal.Options

	// RedisAddr, when set, connects the invalidation bus to the Redis or
	// Valkey server at host:port, so that other nodes learn of this
	// node's writes. Default: "", no bus (a single node, or nodes that
	// converge within Tier.LocalTTL).
	RedisAddr string
	// Redis, when set, is the client the bus uses instead of dialling
	// RedisAddr; Close does not close it. Default: nil.
	Redis redis.UniversalClient
	// Bus configures the Redis bus. Bus.Keys (or Bus.Insecure) is required
	// when a bus is configured: messages are authenticated with HMAC-SHA256
	// (see invalidation.RedisOptions). Default: the zero value.
	Bus invalidation.RedisOptions

	// Registerer, when set, receives the store's Prometheus metrics.
	// Default: nil, no metrics.
	Registerer prometheus.Registerer
	// Tier configures the store itself: local capacity, TTLs, timeouts
	// (see tier.Options). Its Bus and Registerer fields are set by Open
	// from the fields above when those are set. Default: the zero value.
	Tier tier.Options
}

// Store is the session store Open returns: a *tier.Store (all its methods
// are Store's) that also owns what Open opened.
type Store struct {
	*tier.Store
	remote  remote.Store
	closers []func() error // in the order Close runs them
}

// Remote returns the source of truth under the store: a *remote.Dynamo,
// or a *remote.Memory when no table is configured, wrapped in a
// *seal.Store when Config.Seal is set.
func (s *Store) Remote() remote.Store { return s.remote }

// Close closes the store, then the bus and the Redis client Open created.
// It is safe to call twice.
func (s *Store) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Open builds a Store from c: the DynamoDB remote (or the in-memory one),
// the Redis bus when one is configured, and the metrics. It makes the
// requests EnsureTable needs and, with a bus, waits up to
// c.Tier.BusWait for the subscription (a node whose Redis is down starts
// anyway). On error everything opened so far is closed.
func Open(ctx context.Context, c Config) (*Store, error) {
	s := &Store{}
	st, err := s.open(ctx, c)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Store = st
	// The store closes first: it stops using the bus before the bus goes.
	s.closers = append([]func() error{st.Close}, s.closers...)
	return s, nil
}

func (s *Store) open(ctx context.Context, c Config) (*tier.Store, error) {
	if c.Table == "" && (c.Endpoint != "" || c.EnsureTable || c.ConsistentRead || c.Region != "" || c.OwnerIndex != "") {
		return nil, fmt.Errorf("%w: Region, Endpoint, EnsureTable, ConsistentRead or OwnerIndex without a Table", tier.ErrBadOptions)
	}
	r, err := openRemote(ctx, c)
	if err != nil {
		return nil, err
	}
	if c.Seal != nil {
		if r, err = seal.New(r, *c.Seal); err != nil {
			return nil, fmt.Errorf("tiersession: sealing: %w", err)
		}
	}
	s.remote = r
	opts := c.Tier
	if c.Registerer != nil {
		opts.Registerer = c.Registerer
	}
	if c.RedisAddr != "" || c.Redis != nil {
		client := c.Redis
		if client == nil {
			rc := redis.NewClient(&redis.Options{Addr: c.RedisAddr})
			s.closers = append(s.closers, rc.Close)
			client = rc
		}
		bus, err := invalidation.NewRedis(client, c.Bus)
		if err != nil {
			return nil, fmt.Errorf("tiersession: the Redis bus: %w", err)
		}
		// Run before the client's Close (closers run in order).
		s.closers = append([]func() error{bus.Close}, s.closers...)
		opts.Bus = bus
	}
	return tier.New(r, opts)
}

// openRemote returns the in-memory remote, or the DynamoDB one for
// c.Table.
func openRemote(ctx context.Context, c Config) (remote.Store, error) {
	if c.Table == "" {
		return remote.NewMemory(remote.MemoryOptions{}), nil
	}
	var cfg aws.Config
	if c.AWS != nil {
		cfg = c.AWS.Copy()
	} else {
		var err error
		if cfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("tiersession: loading the AWS configuration: %w", err)
		}
	}
	if c.Region != "" {
		cfg.Region = c.Region
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	d, err := remote.NewDynamo(client, remote.DynamoOptions{
		Table: c.Table, ConsistentRead: c.ConsistentRead, OwnerIndex: c.OwnerIndex,
		KMSKeyID: c.KMSKeyID, DeletionProtection: c.DeletionProtection, PointInTimeRecovery: c.PointInTimeRecovery,
	})
	if err != nil {
		return nil, err
	}
	if c.EnsureTable {
		if err := d.EnsureTable(ctx); err != nil {
			return nil, fmt.Errorf("tiersession: ensuring table %q: %w", c.Table, err)
		}
	}
	return d, nil
}
