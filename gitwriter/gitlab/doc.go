// Package gitlab is the pullrequest.Forge of GitLab merge requests, on
// gitlab.com or a self-managed instance, through GitLab's Go client.
package gitlab
