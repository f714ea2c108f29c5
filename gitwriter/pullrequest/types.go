package pullrequest

// Settings are the pullRequests settings of a repository's policy files
// that the lifecycle honours. Grouping and the branch prefix are the
// caller's: Decide receives groups already formed and named.
type Settings struct {
	// Base is the branch pull requests target.
	Base          string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	Draft         bool
	// MaxOpen caps the bot's open pull requests; 0 means no cap. Only new
	// pull requests are held back by it: updates and closes always happen.
	MaxOpen int
}

// Change is one image update of a group: one policy moving one image from
// one value to another in some files.
type Change struct {
	Policy string
	Image  string
	From   string
	To     string
	Files  []string
	// Digest is the digest of the image To names, if known.
	Digest string
	// Source is the image config's org.opencontainers.image.source label;
	// empty when the image has none.
	Source string
}

// File is a file's whole wanted content.
type File struct {
	Path    string
	Content []byte
}

// Group is what one pull request proposes.
type Group struct {
	Name    string
	Branch  string
	Changes []Change
	// Files are the wanted contents of the files the changes touch, computed
	// on top of the current tip of the base branch. Empty means the base
	// already has every value, and a pull request for the group is stale.
	Files []File
	// Obsolete, when set, says why no group of the pass maps to Branch any
	// more (its policy or markers were removed, the grouping changed): the
	// bot's open pull request on it is closed with this reason and the
	// branch deleted, unless someone else committed to it. Such a group has
	// no Changes or Files.
	Obsolete string
	// KeepBranch, for an obsolete group, leaves its branch in place: it
	// lies outside the bot's branch prefix (a former prefix), where the
	// bot deletes nothing. Its pull request is still closed.
	KeepBranch bool
}

// State is a pull request's state on the forge.
type State string

// States a pull request can be in. A forge's "closed" is split in two
// because a merged pull request and one a human declined mean opposite
// things to the lifecycle.
const (
	StateOpen   State = "open"
	StateClosed State = "closed"
	StateMerged State = "merged"
)

// PullRequest is a pull request as the forge reports it.
type PullRequest struct {
	Number int
	State  State
	// Head is the head branch name; HeadSHA the commit it pointed at when
	// the forge last updated the pull request.
	Head    string
	HeadSHA string
	Title   string
	Body    string
	URL     string
	// Comments are the bodies of the pull request's comments. Observe fills
	// them only where Decide needs them: for open pull requests whose branch
	// carries commits the bot did not make, or which are to be closed.
	Comments []string
}

// Commit is one commit on a branch since its merge-base with the base.
type Commit struct {
	Hash string
	// ByBot reports whether imagebump made the commit.
	ByBot bool
}

// Branch is the state of a group's branch in the repository.
type Branch struct {
	Exists bool
	Head   string
	// Commits are the branch's commits since its merge-base with the base
	// branch.
	Commits []Commit
	// Files are the branch's contents of every file it changes relative to
	// that merge-base. A file the branch deletes has nil Content.
	Files []File
	// Behind are the files the branch or its group changes whose content on
	// the base tip differs from the branch's merge-base, sorted: the base
	// moved under them, so the branch may conflict and is rebuilt on the
	// tip even when its contents are the wanted ones. The base moving in
	// other files is not a reason to push.
	Behind []string
}

// Version is one proposed image version, as recorded in a pull request's
// hidden marker.
type Version struct {
	Policy string `json:"policy"`
	Image  string `json:"image"`
	From   string `json:"from,omitempty"`
	To     string `json:"to"`
}
