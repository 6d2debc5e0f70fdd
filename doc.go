// Package tiersession is a tiered session store for Go web servers under
// heavy traffic: an in-process LRU with a short TTL in front of DynamoDB,
// the source of truth, kept coherent across nodes by an invalidation bus
// on Redis pub/sub, and measured with Prometheus metrics.
//
// This package is the one-call setup: Open builds the DynamoDB client
// from the standard AWS configuration, ensures the table when asked,
// wires the Redis bus and the metrics, and returns a Store; with no table
// configured it runs on the in-memory remote, for development. It also
// owns the session token and the storage key derived from it (NewToken,
// ValidToken, StorageKey).
//
// The layers below are usable on their own: package tier is the store,
// remote the source of truth, local the in-process tier, invalidation the
// bus and metrics the Prometheus collectors. Package httpsession is a
// net/http session manager on top of a Store.
package tiersession
