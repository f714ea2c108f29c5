package registrytest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
)

// recorder is a testing.TB whose Fatal and Skip are recorded and end
// the goroutine, as the real ones do.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestStartWithoutBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "docker-registry")
	msg := missing + " not found: apt-get install docker-registry to run tests against the real registry"
	for _, tc := range []struct {
		ci              string
		wantFatal, skip string
	}{
		{ci: "true", wantFatal: msg},
		{ci: "", skip: msg},
		{ci: "false", skip: msg},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				start(rec, missing)
				t.Error("start returned without a binary")
			}()
			<-done
			if rec.fatal != tc.wantFatal || rec.skip != tc.skip {
				t.Errorf("Fatal(%q) Skip(%q), want Fatal(%q) Skip(%q)", rec.fatal, rec.skip, tc.wantFatal, tc.skip)
			}
		})
	}
}
