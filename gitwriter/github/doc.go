// Package github implements pullrequest.Forge on the GitHub REST API
// (github.com or GitHub Enterprise) with go-github.
package github
