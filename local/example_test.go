package local_test

import (
	"fmt"
	"time"

	"github.com/tiersession/tiersession/local"
)

// ExampleCache shows the read path of a tier above the cache: a hit, a
// slow load that must not overwrite a newer write, a not-found marker with
// its floor, and an invalidation from another node.
func ExampleCache() {
	c, err := local.New(local.Options{Capacity: 1000, TTL: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	exp := time.Now().Add(time.Hour)
	v2 := local.Entry{Data: []byte(`{"user":"ada"}`), Version: 2, ExpiresAt: exp}
	fmt.Println("install v2:", c.Install("sess", v2))

	e, r := c.Get("sess")
	fmt.Println(r, e.Version, string(e.Data))

	// A load that read version 1 before the write of version 2 finishes
	// late: the cache keeps the newer version.
	v1 := local.Entry{Data: []byte(`{}`), Version: 1, ExpiresAt: exp}
	fmt.Println("install stale v1:", c.Install("sess", v1))

	// The session is deleted at version 2: remember it is gone, and refuse
	// any late install of version 2 or below.
	c.Remove("sess")
	fmt.Println("not found, floor 2:", c.InstallNotFound("sess", 2))
	_, r = c.Get("sess")
	fmt.Println(r)
	fmt.Println("install v2 again:", c.Install("sess", v2))

	// Another node publishes version 3: the marker is stale now.
	fmt.Println("invalidate below v3:", c.RemoveIfOlder("sess", 3))
	_, r = c.Get("sess")
	fmt.Println(r)

	st := c.Stats()
	fmt.Printf("hits=%d misses=%d negative=%d entries=%d\n", st.Hits, st.Misses, st.NegativeHits, st.Entries)
	// Output:
	// install v2: true
	// hit 2 {"user":"ada"}
	// install stale v1: false
	// not found, floor 2: true
	// negative-hit
	// install v2 again: false
	// invalidate below v3: true
	// miss
	// hits=1 misses=1 negative=1 entries=0
}
