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
# SSH server with ssh. chromium: bot renders the status page in headless
# Chromium. prometheus: promtool, which unit-tests the alert rules of
# deploy/monitoring. prometheus-pushgateway: the Pushgateway run --once
# pushes its metrics to.
TEST_PACKAGES = docker-registry:/usr/bin/docker-registry git:/usr/lib/git-core/git-http-backend gnupg:gpg openssh-client:ssh chromium:chromium prometheus:/usr/bin/promtool prometheus-pushgateway:/usr/bin/prometheus-pushgateway

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

# OUTPUT is where build-static writes the binary (binaries sets it per
# platform).
OUTPUT ?= imagebump

build-static:
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(OUTPUT) ./cmd/imagebump

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

# --- Release: binaries and the container image (issue 19) ----------------
#
# The release workflow (.github/workflows/release.yml) runs these targets,
# and .ci/run runs image-check, which builds the image into a local
# registry with them. Each binary is `make build-static` for one platform.

# OS/ARCH pairs.
PLATFORMS ?= linux/amd64 linux/arm64
DIST ?= dist
# The image's base: CA certificates, tzdata, no shell (deploy/imagebuild
# refuses a base without them). The Dockerfile's FROM is the same.
BASE_IMAGE ?= gcr.io/distroless/static-debian12:nonroot
SOURCE_URL ?= https://github.com/imagebump/imagebump
# SPDX expression for org.opencontainers.image.licenses. The repository
# carries no license file yet: NOASSERTION says so rather than guess.
LICENSES ?= NOASSERTION
# The commit's time, not the build's: the same commit builds the same image.
CREATED ?= $(shell git log -1 --format=%cI 2>/dev/null | xargs -r date -u +%Y-%m-%dT%H:%M:%SZ -d)
# Where `make image` writes: a reference to push to (IMAGE), or an OCI
# image layout directory (OCI_LAYOUT).
IMAGE ?=
OCI_LAYOUT ?=

.PHONY: binaries image image-dest image-check actionlint release-check

# $(DIST)/imagebump-OS-ARCH for each of PLATFORMS. build-static writes
# ./imagebump, which is moved away: run it last if you want ./imagebump.
binaries:
	@set -e; mkdir -p $(DIST); for p in $(PLATFORMS); do \
	  os=$${p%%/*}; arch=$${p#*/}; \
	  echo "build-static $$os/$$arch"; \
	  GOOS=$$os GOARCH=$$arch $(MAKE) --no-print-directory build-static VERSION="$(VERSION)" COMMIT="$(COMMIT)" OUTPUT=$(DIST)/imagebump-$$os-$$arch; \
	done

# The multi-platform image of those binaries on BASE_IMAGE, pushed to IMAGE
# or written to OCI_LAYOUT, without a Docker engine (deploy/imagebuild).
# Prints the reference by digest, also written to $(DIST)/image-ref.
image: image-dest binaries
	go run ./deploy/imagebuild -base "$(BASE_IMAGE)" \
	  $(foreach p,$(PLATFORMS),-binary $(p)=$(DIST)/imagebump-$(subst /,-,$(p))) \
	  -source "$(SOURCE_URL)" -version "$(VERSION)" -revision "$(COMMIT)" \
	  -licenses "$(LICENSES)" -created "$(CREATED)" \
	  $(if $(IMAGE),-tag "$(IMAGE)",-oci-layout "$(OCI_LAYOUT)") >$(DIST)/image-ref
	@cat $(DIST)/image-ref

# Refuses `make image` without a destination before anything is built.
image-dest:
	@if [ -z "$(IMAGE)$(OCI_LAYOUT)" ]; then echo "make image: set IMAGE=REGISTRY/REPO:TAG or OCI_LAYOUT=DIR" >&2; exit 2; fi

# Builds the image with `make image` into a docker-registry started on
# 127.0.0.1, on a base made here from Debian's CA certificates and tzdata,
# pulls it back and runs its amd64 binary (deploy/imagebuild's TestImage,
# which plain go test skips: a cold cross-compile outlasts its timeout).
image-check:
	go test -tags imagecheck -count=1 -v -timeout 30m -run '^(TestImage|TestVersionFromBuildInfo)$$' ./deploy/imagebuild

# actionlint (its Go module, pinned) over every GitHub workflow in the
# repository: .github/workflows and the examples' workflows (any YAML file
# with top-level jobs:).
ACTIONLINT ?= go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
actionlint:
	$(ACTIONLINT) $$(grep -rlE --include='*.yml' --include='*.yaml' '^jobs:' .github examples | sort)

# What .ci/run adds for releases: the image check and actionlint.
release-check: image-check actionlint
