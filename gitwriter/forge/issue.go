package forge

// Issue is an issue on a forge, as the forge clients return it for the
// bot's dashboard issue.
type Issue struct {
	Number int
	Title  string
	Body   string
	URL    string
}
