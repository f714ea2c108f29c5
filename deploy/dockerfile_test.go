package deploy_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
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
		{"runs as nonroot", "../Dockerfile", `^USER 65532:65532$`},
		{"entrypoint is the binary", "../Dockerfile", `^ENTRYPOINT \["/imagebump"\]$`},
		{"binary from the builder", "../Dockerfile", `^COPY --from=build /src/imagebump /imagebump$`},
		{"builder runs make build-static", "../Dockerfile", `^RUN .*make build-static VERSION="\$VERSION" COMMIT="\$COMMIT"$`},
		{"static", "../Makefile", `^\tCGO_ENABLED=0 go build .*-o \$\(OUTPUT\) \./cmd/imagebump$`},
		{"static writes ./imagebump", "../Makefile", `^OUTPUT \?= imagebump$`},
		{"trimpath", "../Makefile", `^\tCGO_ENABLED=0 go build -trimpath `},
		{"stamped", "../Makefile", `^\tCGO_ENABLED=0 go build .*-ldflags "-s -w -X main\.version=\$\(VERSION\) -X main\.commit=\$\(COMMIT\)"`},
		{"ci builds and runs it", "../.ci/run", `^make build-static$`},
		{"release binaries are build-static", "../Makefile", `^\t.*GOOS=\$\$os GOARCH=\$\$arch \$\(MAKE\) --no-print-directory build-static `},
		{"make image runs the builder", "../Makefile", `^\tgo run \./deploy/imagebuild -base "\$\(BASE_IMAGE\)"`},
		{"ci builds the image", "../Makefile", `^release-check: image-check`},
		{"labels in the docker path", "../Dockerfile", `org\.opencontainers\.image\.revision="\$COMMIT"`},
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

// TestOneBase checks that the docker path and make image build on the same
// base by default: the Dockerfile's final FROM, the Makefile's BASE_IMAGE
// and deploy/imagebuild's DefaultBase.
func TestOneBase(t *testing.T) {
	find := func(file, re string) string {
		t.Helper()
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		all := regexp.MustCompile("(?m)"+re).FindAllStringSubmatch(string(src), -1)
		if len(all) == 0 {
			t.Fatalf("%s has no line matching %s", file, re)
		}
		return all[len(all)-1][1] // the last: the Dockerfile's final stage
	}
	docker := find("../Dockerfile", `^FROM (\S+)$`)
	got := map[string]string{
		"Makefile BASE_IMAGE":    find("../Makefile", `^BASE_IMAGE \?= (\S+)$`),
		"imagebuild DefaultBase": find("imagebuild/build.go", `^const DefaultBase = "([^"]+)"$`),
	}
	want := map[string]string{"Makefile BASE_IMAGE": docker, "imagebuild DefaultBase": docker}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bases differ from the Dockerfile's %s (-want +got):\n%s", docker, diff)
	}
}
