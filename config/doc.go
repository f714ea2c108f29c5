// Package config loads and validates what imagebump reads from files: the
// policy files committed in a manifests repository (.imagebump.yaml) and
// the bot config of a deployment. Every problem it reports carries the file
// and line it is about.
//
// It decodes YAML with go.yaml.in/yaml/v4, the successor of the parser that
// kyaml's yaml package re-exports (v3): v4 reports where a syntax error is
// (line and column), where v3 gives the line before the construct it was
// reading. kyaml/yaml would also pull in the OpenAPI schema packages and,
// through them, net/http, which a package that only reads files has no use
// for.
package config
