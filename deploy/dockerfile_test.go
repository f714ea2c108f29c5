package deploy_test

import (
	"os"
	"regexp"
	"testing"
)

// TestDockerfile checks the promises of the image that the manifests and
// .ci/run rely on but no build here can check, there being no Docker
// engine: the pods pass only args (the ENTRYPOINT is the binary), run as
// uid 65532 (distroless nonroot), and the image's binary is the one
// `make build-static` builds, which .ci/run builds and runs.
func TestDockerfile(t *testing.T) {
	tests := []struct {
		name, file, want string // want: a regexp some line must match
	}{
		{"distroless static nonroot", "../Dockerfile", `^FROM gcr\.io/distroless/static-debian12:nonroot$`},
		{"runs as nonroot", "../Dockerfile", `^USER nonroot(:nonroot)?$`},
		{"entrypoint is the binary", "../Dockerfile", `^ENTRYPOINT \["/imagebump"\]$`},
		{"binary from the builder", "../Dockerfile", `^COPY --from=build /src/imagebump /imagebump$`},
		{"builder runs make build-static", "../Dockerfile", `^RUN .*make build-static VERSION="\$VERSION" COMMIT="\$COMMIT"$`},
		{"static", "../Makefile", `^\tCGO_ENABLED=0 go build .*-o imagebump \./cmd/imagebump$`},
		{"trimpath", "../Makefile", `^\tCGO_ENABLED=0 go build -trimpath `},
		{"stamped", "../Makefile", `^\tCGO_ENABLED=0 go build .*-ldflags "-s -w -X main\.version=\$\(VERSION\) -X main\.commit=\$\(COMMIT\)"`},
		{"ci builds and runs it", "../.ci/run", `^make build-static$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile("(?m)" + tc.want).Match(src) {
				t.Errorf("%s has no line matching %s", tc.file, tc.want)
			}
		})
	}
}
