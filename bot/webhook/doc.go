// Package webhook reads the notifications that registries and forges send
// (the distribution notification envelope, Docker Hub, Harbor, Quay,
// GitHub, GitLab and Gitea) and checks each the way its sender signs it.
// An Event is only a hint of what may have changed: the images or the git
// repositories it names, never a version.
package webhook
