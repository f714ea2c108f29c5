package main

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

// reexecEnv makes the test binary run main instead of the tests, so that
// tests can run the real command in a process of its own and signal it.
const reexecEnv = "IMAGEBUMP_TEST_MAIN"

// fileSizeEnv sets RLIMIT_FSIZE in such a process: writing a file larger
// than that fails with EFBIG, for root too.
const fileSizeEnv = "IMAGEBUMP_TEST_FSIZE"

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		if s := os.Getenv(fileSizeEnv); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err == nil {
				err = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n})
			}
			if err != nil {
				os.Stderr.WriteString("setting RLIMIT_FSIZE: " + err.Error() + "\n")
				os.Exit(99)
			}
		}
		main()
		return
	}
	os.Exit(m.Run())
}
