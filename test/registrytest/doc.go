// Package registrytest runs the real registry from Debian's docker-registry
// package on 127.0.0.1 for tests, and seeds it with images and indexes.
package registrytest
