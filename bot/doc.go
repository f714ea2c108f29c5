// Package bot runs imagebump's update passes: it resolves the policies a
// repository's markers use against the registries, and (in later work)
// writes the result to git and pull requests on a schedule.
package bot
