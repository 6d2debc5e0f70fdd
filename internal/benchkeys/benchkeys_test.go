package benchkeys

import (
	"encoding/base64"
	"slices"
	"testing"
)

func TestKey(t *testing.T) {
	seen := make(map[string]int)
	for i := range 1000 {
		k := Key(i)
		if len(k) != 43 {
			t.Fatalf("Key(%d) = %q: length %d, want 43", i, k, len(k))
		}
		if _, err := base64.RawURLEncoding.DecodeString(k); err != nil {
			t.Fatalf("Key(%d) = %q is not base64url: %v", i, k, err)
		}
		if j, dup := seen[k]; dup {
			t.Fatalf("Key(%d) == Key(%d) == %q", i, j, k)
		}
		seen[k] = i
	}
	// Two calls, not one expression compared with itself: the second
	// must rebuild the key from the index alone.
	first, again := Key(7), Key(7)
	if first != again {
		t.Fatalf("Key is not deterministic: %q, then %q", first, again)
	}
}

func TestZipf(t *testing.T) {
	const n, count = 1024, 100_000
	tests := []struct {
		name string
		seed uint64
	}{
		{"seed 1", 1},
		{"seed 42", 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq := Zipf(n, count, tt.seed)
			if len(seq) != count {
				t.Fatalf("len = %d, want %d", len(seq), count)
			}
			if !slices.Equal(seq, Zipf(n, count, tt.seed)) {
				t.Fatal("same seed gave a different sequence")
			}
			if slices.Equal(seq, Zipf(n, count, tt.seed+1)) {
				t.Fatal("different seeds gave the same sequence")
			}
			freq := make(map[string]int)
			for _, k := range seq {
				freq[k]++
			}
			valid := make(map[string]bool, n)
			for _, k := range Keys(n) {
				valid[k] = true
			}
			for k := range freq {
				if !valid[k] {
					t.Fatalf("key %q is not in Keys(%d)", k, n)
				}
			}
			// With s = 1.01 over 1024 keys the top rank draws about 13%
			// of the accesses and the top 10 ranks well over a third.
			top := freq[Key(0)]
			if top < count/10 || top > count/5 {
				t.Errorf("rank 0 drawn %d times of %d, want 10%%..20%%", top, count)
			}
			top10 := 0
			for i := range 10 {
				top10 += freq[Key(i)]
			}
			if top10 < count/3 {
				t.Errorf("top 10 ranks drawn %d times of %d, want over a third", top10, count)
			}
		})
	}
}

func TestZipfPanics(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n, count int
	}{
		{"no keys", 0, 10},
		{"negative count", 10, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Zipf(tc.n, tc.count, 1)
		})
	}
}
