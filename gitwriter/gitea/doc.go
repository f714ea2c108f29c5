// Package gitea is the pullrequest.Forge of Gitea and Forgejo pull
// requests, through Gitea's Go SDK.
package gitea
