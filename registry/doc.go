// Package registry talks to OCI registries for imagebump: it lists tags,
// resolves digests, platforms and created times, and does so with retries,
// per-host limits, credentials from docker config files, and request
// accounting the bot exports as metrics.
package registry
