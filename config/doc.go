// Package config loads and validates what imagebump reads from files: the
// policy files committed in a manifests repository (.imagebump.yaml). Every
// problem it reports carries the file and line it is about.
package config
