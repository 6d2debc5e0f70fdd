package seal_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/seal"
)

func Example() {
	ctx := context.Background()
	secret := make([]byte, seal.KeySize)
	_, _ = rand.Read(secret) // in production: from a secret store or KMS
	keys, err := seal.NewKeyring(seal.Key{ID: "2026-03", Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	inner := remote.NewMemory(remote.MemoryOptions{}) // remote.Dynamo in production
	store, err := seal.New(inner, seal.Options{Keys: keys})
	if err != nil {
		log.Fatal(err)
	}

	session := `{"user":"jane","cart":[` + strings.Repeat(`{"sku":"SKU-1","qty":1},`, 40) + `{}]}`
	rec, err := store.Create(ctx, remote.Record{Key: "session-key", Data: []byte(session), ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	got, _, _ := store.Get(ctx, rec.Key)
	stored, _, _ := inner.Get(ctx, rec.Key)
	fmt.Println("read back intact:", string(got.Data) == session)
	fmt.Println("stored in plaintext:", strings.Contains(string(stored.Data), "jane"))
	fmt.Println("stored smaller:", len(stored.Data) < len(session))

	// Rotation: new writes seal with the new key, old items still open.
	next := make([]byte, seal.KeySize)
	_, _ = rand.Read(next)
	if err := keys.Rotate(seal.Key{ID: "2026-04", Secret: next}); err != nil {
		log.Fatal(err)
	}
	got, _, err = store.Get(ctx, rec.Key)
	fmt.Println("old item after rotation:", err == nil && string(got.Data) == session)
	// Output:
	// read back intact: true
	// stored in plaintext: false
	// stored smaller: true
	// old item after rotation: true
}
