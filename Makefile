# The test command of the README and of .ci/run.
#
# Fuzzing runs a number of executions per target, not a duration: with a
# duration, Go 1.26's fuzz coordinator can report its own deadline as a
# failure when a loaded machine's worker is mid-input at the end
# (go.dev/issue/75804, fixed in Go 1.27), and CI would fail on no finding.
FUZZTIME ?= 30000x

.PHONY: test check unit fuzz bench build build-static

test: check unit fuzz

build:
	go build -o imagebump ./cmd/imagebump

# The release binary: static (no cgo), no local paths, no symbol tables,
# version and commit stamped. The Dockerfile builds the image's binary with
# this target; .ci/run builds it and runs it. GOOS and GOARCH pass through.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)

build-static:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o imagebump ./cmd/imagebump

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
