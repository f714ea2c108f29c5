// Package bot runs imagebump's update passes. A pass over one repository
// is a pipeline of named stages: sync the working copy, Load the policy
// files, Scan the manifests for the policies their markers use, Resolve
// those against the registries, plan the rewrites (Targets, then the
// patcher), and write them: one pushed commit (push mode) or one branch and
// pull request per group (pull request mode, through the forge-neutral
// lifecycle of gitwriter/pullrequest). Runner runs passes and returns each
// as a Result; Scheduler runs rounds of them on a cron schedule; Status
// holds the exit code rules every command shares. plan and apply use the
// same stages through Resolver.Plan, validate through Validate.
package bot
