// Package unprivileged runs a test as a user without root's privileges, for
// tests of permission errors: root reads a directory whatever its mode says,
// so such a test run as root would prove nothing.
package unprivileged
