# The test command of the README and of .ci/run.
FUZZTIME ?= 10s

.PHONY: test check unit fuzz bench build

test: check unit fuzz

build:
	go build -o imagebump ./cmd/imagebump

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...

unit:
	go test -race -count=1 ./...

# Every Fuzz function in the module, FUZZTIME each (one target per run is
# all go test allows). Minimizing each new interesting input would eat most
# of a short run, so it is off; a failing input is saved under
# testdata/fuzz as it was found.
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    go test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0; \
	  done; \
	done

bench:
	go test -run '^$$' -bench . -benchmem ./...
