// Package forge is the registry of the forges imagebump opens pull requests
// on: one Kind per forge, saying how to build its client, what it can do,
// and how its API root and repository paths are found. Config validation,
// the bot and the tests read the same table; a new forge is one client
// package plus one Kind. The package does no I/O, so config may import it.
//
// The table itself is assembled by package gitwriter/forges, the one place
// that imports every client; cmd hands it to config.LoadBot, which stores
// each repository's Kind, so bot builds clients without importing any.
package forge
