package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by the release build: -ldflags "-X main.version=v1.2.3 -X main.commit=abc1234".
var (
	version = ""
	commit  = ""
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			printVersion(cmd.OutOrStdout())
			return nil
		},
	}
}

func printVersion(w io.Writer) {
	v, c := versionInfo()
	fmt.Fprintf(w, "imagebump %s\ncommit: %s\ngo: %s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// versionInfo is the version and commit of the binary (versionOf of this
// build); imagebump_build_info reports them too.
func versionInfo() (v, c string) {
	info, _ := debug.ReadBuildInfo()
	return versionOf(version, commit, info)
}

// versionOf is the version and commit to report: those stamped by the
// release build, else what the Go toolchain recorded in the build info
// (`go install module@v1.2.3` records the module version; `go build` in a
// git checkout records a version from the tags, such as
// v0.0.0-20261201164705-87c20caee44c+dirty, and the revision), else "dev"
// and "unknown". A revision built with uncommitted changes says so.
func versionOf(stampedVersion, stampedCommit string, info *debug.BuildInfo) (v, c string) {
	v, c = stampedVersion, stampedCommit
	if info != nil {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if c == "" {
			var modified bool
			for _, s := range info.Settings {
				switch s.Key {
				case "vcs.revision":
					c = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if c != "" && modified {
				c += " (modified)"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}
