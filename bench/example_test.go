package bench_test

import (
	"fmt"

	"github.com/tiersession/tiersession/bench"
)

// The DynamoDB bill of a workload follows from its remote requests: here
// remote-only YCSB B on 1 KB sessions, against a tiered store that answers
// three reads in four locally.
func ExampleCostModel_PerMillionOps() {
	m := bench.NewCostModel(bench.DefaultPrices(), 43, 1024, false)
	fmt.Printf("item %d B: %g RRU per read, %g WRU per write\n", m.ItemBytes, m.RRUPerRead, m.WRUPerWrite)
	fmt.Printf("remote only: $%.4f per million ops\n", m.PerMillionOps(1000, 50, 1000))
	fmt.Printf("tiered:      $%.4f per million ops\n", m.PerMillionOps(250, 50, 1000))
	// Output:
	// item 1108 B: 0.5 RRU per read, 2 WRU per write
	// remote only: $0.1250 per million ops
	// tiered:      $0.0781 per million ops
}

// A generator draws a worker's requests; the same seed and worker number
// always draw the same sequence.
func ExampleNewGenerator() {
	w, _ := bench.LookupWorkload("ycsb-b")
	keys, _ := bench.NewKeyChooser(bench.DistZipf, 100_000, 0.99)
	g, _ := bench.NewGenerator(w, keys, 1, 42, 0)
	h, _ := bench.NewGenerator(w, keys, 1, 42, 0)
	same := true
	for range 1000 {
		same = same && g.Next() == h.Next()
	}
	fmt.Println(w.Description)
	fmt.Println(keys.Name(), "over", keys.Items(), "sessions; reproducible:", same)
	// Output:
	// YCSB B: 95% read, 5% update
	// zipf(0.99) over 100000 sessions; reproducible: true
}
