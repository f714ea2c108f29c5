// Package monitoring holds no code: it tests the alerting rules shipped
// beside it (imagebump.rules.yml and its PrometheusRule) with promtool.
package monitoring
