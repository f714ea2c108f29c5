package bot

// DashboardResult is what a pass did with the repository's dashboard
// issue.
type DashboardResult struct {
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// Action is "created", "updated", "unchanged", "closed" or "none".
	Action string `json:"action"`
	Error  string `json:"error,omitempty"`
}
