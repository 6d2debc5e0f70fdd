# The two commands of the README:
#   go run ./cmd/tierbench    the main job: the benchmark on the embedded default
#   make test                 the whole test suite, from a fresh clone

GO ?= go

.PHONY: test deps bench microbench

## test: install the pinned DynamoDB emulator, then run every test under -race.
test: deps
	$(GO) test -race -count=1 ./...

## deps: the npm-pinned dynalite (tools/dynalite/package-lock.json).
deps:
	npm ci --prefix tools/dynalite --no-audit --no-fund --loglevel=error

## bench: the side-by-side harness on the embedded default.
bench:
	$(GO) run ./cmd/tierbench

## microbench: the go test benchmarks of the hot path.
microbench:
	$(GO) test -run '^$$' -bench . -benchmem ./local/ ./tier/
