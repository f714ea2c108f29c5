// Package giteaserver runs a real Gitea server on 127.0.0.1 for tests:
// built once from the code.gitea.io/gitea module and cached under the user
// cache directory, with sqlite storage in a t.TempDir, an admin user and
// token made by Gitea's own CLI, and helpers that act as humans do.
package giteaserver
