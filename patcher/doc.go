// Package patcher finds image-policy setter markers in YAML manifests and
// rewrites exactly the bytes of the marked scalars, leaving every other byte
// of a file as it was.
package patcher
