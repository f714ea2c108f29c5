// Package config loads and validates what imagebump reads from files: the
// policy files committed in a manifests repository (.imagebump.yaml) and
// the bot config of a deployment. Every problem it reports carries the file
// and line it is about.
//
// It decodes YAML with go.yaml.in/yaml/v3, the parser that kyaml's yaml
// package re-exports, imported directly: kyaml/yaml also pulls in the
// OpenAPI schema packages and, through them, net/http, which a package that
// only reads files has no use for.
package config
