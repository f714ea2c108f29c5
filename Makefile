# The test command of the README and of .ci/run. make test first does all
# the set-up the tests need (packages, gitea), so that nothing is installed
# or built inside a test's timeout, then runs gofmt and vet, the tests and
# fuzzing, and ends by saying how many tests were skipped and why.
#
# Fuzzing runs a number of executions per target, not a duration: with a
# duration, Go 1.26's fuzz coordinator can report its own deadline as a
# failure when a loaded machine's worker is mid-input at the end
# (go.dev/issue/75804, fixed in Go 1.27), and CI would fail on no finding.
FUZZTIME ?= 30000x

.PHONY: test packages gitea check unit fuzz bench build build-static

test: packages gitea check unit fuzz
	@echo; cat $(SUMMARY)

# The Debian packages the tests run, each as PACKAGE:a-file-it-installs.
# docker-registry: the real registry of the registry and end-to-end tests.
# git: git http-backend serves the end-to-end tests' repositories; Gitea
# needs git too. gnupg: gitwriter's tests sign commits and check them with
# git verify-commit. openssh-client: test/gitserver's own test drives its
# SSH server with ssh. prometheus: promtool, which unit-tests the alert
# rules of deploy/monitoring. prometheus-pushgateway: the Pushgateway run
# --once pushes its metrics to.
TEST_PACKAGES = docker-registry:/usr/bin/docker-registry git:/usr/lib/git-core/git-http-backend gnupg:gpg openssh-client:ssh prometheus:/usr/bin/promtool prometheus-pushgateway:/usr/bin/prometheus-pushgateway

# Installs the missing packages as root; as any other user it stops at once
# with the command to run.
packages:
	@missing=; for p in $(TEST_PACKAGES); do \
	  case $${p#*:} in \
	    /*) [ -x "$${p#*:}" ] ;; \
	    *) command -v "$${p#*:}" >/dev/null 2>&1 ;; \
	  esac || missing="$$missing $${p%%:*}"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	install="apt-get install -y --no-install-recommends$$missing"; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "make: the tests need Debian packages that are missing:$$missing. Install them, then run make again:"; \
	  echo "    sudo sh -c 'apt-get update && $$install'"; \
	  exit 1; \
	fi; \
	echo "make: installing the Debian packages the tests need:$$missing"; \
	echo "apt-get update && $$install"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && $$install -qq >/dev/null

# The real Gitea the forge tests run against, built from source the first
# time (minutes, with progress; see the README) and cached under the user
# cache directory; instant once cached.
gitea:
	@echo "go run ./test/giteaserver/cmd/gitea-build   # with an empty Go build cache, compiling it takes a minute before it speaks"
	@go run ./test/giteaserver/cmd/gitea-build

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

# go test, through test/cmd/gotest: the same output, plus a line for each
# skipped test and its reason, and a closing summary, also kept in
# $(SUMMARY) for make test to print last.
SUMMARY = .test-summary

unit: packages gitea
	go run ./test/cmd/gotest -summary $(SUMMARY) -race -count=1 ./...

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
