// Package test holds the end-to-end tests of imagebump and the checks that
// keep its package layering honest. Helpers that start real servers live in
// its subpackages.
package test
