package main

import (
	"strconv"

	"github.com/imagebump/imagebump/config"
)

// maxFileSizeUsage describes --max-file-size of plan, apply and validate.
const maxFileSizeUsage = "manifests larger than `SIZE` (bytes, or with KiB, MiB, GiB) are not read; one that mentions imagepolicy is a problem (default 4MiB, as limits.maxFileSize in the bot config)"

// sizeFlag is a size in bytes given as config.ParseSize reads it
// ("4MiB"); 0 means the default.
type sizeFlag int64

func (s *sizeFlag) String() string {
	if *s == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*s), 10)
}

func (s *sizeFlag) Set(v string) error {
	n, err := config.ParseSize(v)
	if err != nil {
		return err
	}
	if n < 1<<10 {
		// As limits.maxFileSize: a smaller bound would pass over most
		// manifests.
		return usageError("%q: the bound is at least 1KiB", v)
	}
	*s = sizeFlag(n)
	return nil
}

func (*sizeFlag) Type() string { return "SIZE" }
