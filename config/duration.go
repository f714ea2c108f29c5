package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads the durations imagebump accepts everywhere (policy
// files, the bot config, command-line flags): a Go duration such as "90m"
// or "72h", or a whole number of days such as "3d". One grammar, so that a
// value copied from a policy file into a flag means the same.
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		// The largest duration is about 106,751 days.
		if err == nil && n >= 0 && n <= int64(time.Duration(1<<63-1)/(24*time.Hour)) && !strings.HasPrefix(days, "+") {
			return time.Duration(n) * 24 * time.Hour, nil
		}
		return 0, fmt.Errorf("%q is not a duration such as 72h or 3d", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 72h or 3d", s)
	}
	return d, nil
}
