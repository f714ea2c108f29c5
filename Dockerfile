# The imagebump container image, the docker path: a static binary on
# distroless, run as non-root. Build (from the repository root):
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t imagebump .
#
# The released image is not built here but by `make image` (no Docker
# engine: deploy/imagebuild assembles it with go-containerregistry, as ko
# does), which .ci/run checks. Both put the binary of `make build-static`
# at /imagebump on the same base, run it as 65532:65532 with it as the
# entrypoint, and make /var/lib/imagebump owned by nonroot;
# deploy/dockerfile_test.go keeps the two in step.

# golang:1.26 follows the go directive of go.mod; a tag rather than a digest
# so Go patch releases arrive. Pin a digest in your own build for
# reproducibility.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
# Modules first: this layer stays cached while only the source changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH make build-static VERSION="$VERSION" COMMIT="$COMMIT"
# The final stage has no shell to mkdir with: the workDir is made here.
RUN mkdir -p /out/var/lib/imagebump

# distroless static: CA certificates, /etc/passwd with nonroot (65532), tzdata;
# no shell, no package manager, no git (imagebump speaks git through go-git).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/imagebump /imagebump
# The bot's workDir (default /var/lib/imagebump) holds its clones and must be
# writable. deploy/kubernetes mounts an emptyDir (or a PVC) there, the root
# filesystem being read-only. The directory is owned by nonroot so that a
# docker volume mounted on it (-v imagebump:/var/lib/imagebump) is too.
COPY --from=build --chown=65532:65532 /out/var/lib/imagebump /var/lib/imagebump
# Numeric, as make image sets it: the kubelet can check runAsNonRoot
# against a uid, not against a name.
USER 65532:65532
ENTRYPOINT ["/imagebump"]
ARG VERSION
ARG COMMIT
LABEL org.opencontainers.image.source="https://github.com/imagebump/imagebump" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$COMMIT" \
      org.opencontainers.image.licenses="NOASSERTION" \
      org.opencontainers.image.title="imagebump"
