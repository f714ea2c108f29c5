// Package registry talks to OCI registries for imagebump: it lists tags,
// resolves digests, platforms and created times, and does so with retries,
// per-host limits, credentials from docker config files, and request
// accounting the bot exports as metrics.
//
// Its context-aware sleep repeats gitwriter's on purpose: the layers below
// bot import none of each other (test/depcheck_test.go).
package registry
