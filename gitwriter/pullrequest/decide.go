package pullrequest

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Action is what a pass does to a group's pull request.
type Action string

// The actions, from most to least writing.
const (
	// ActionCreate opens a pull request, pushing the branch first when it
	// does not already carry the wanted change (Decision.Push).
	ActionCreate Action = "create"
	// ActionUpdate rebuilds the branch and edits title and body.
	ActionUpdate Action = "update"
	// ActionUpdateBranch rebuilds the branch; title and body are current.
	ActionUpdateBranch Action = "update-branch"
	// ActionUpdateText edits title and body; the branch is current.
	ActionUpdateText Action = "update-text"
	// ActionClose comments, closes the pull request and deletes its branch:
	// the base already has the values.
	ActionClose Action = "close"
	// ActionCommentForeign says once, on the pull request, that the branch
	// carries commits the bot did not make and that the group waits.
	ActionCommentForeign Action = "comment-foreign"
	// ActionSkip writes nothing; Reason says why.
	ActionSkip Action = "skip"
	// ActionDefer would create a pull request but maxOpen is reached.
	ActionDefer Action = "defer"
	// ActionDeleteBranch deletes a bot branch no open pull request uses:
	// its pull request was merged and the forge left it, or its group is
	// obsolete.
	ActionDeleteBranch Action = "delete-branch"
)

// NewPullRequest is what the forge needs to open a pull request.
type NewPullRequest struct {
	Head          string
	Base          string
	Title         string
	Body          string
	Labels        []string
	Reviewers     []string
	TeamReviewers []string
	Draft         bool
}

// Decision is what one pass does for one group, and why. Decisions are
// data so a dry run can print them without writing anything.
type Decision struct {
	Group  string
	Branch string
	Action Action
	Reason string
	// Skip, when set, names the reason in the skip vocabulary: the group's
	// change is held back on purpose (deferred, declined, foreign commits,
	// a foreign pull request). It is set on ActionSkip and ActionDefer, and
	// on ActionCommentForeign, which holds the group back too.
	Skip SkipReason
	// Versions are the versions the group proposes now.
	Versions []Version
	// Number is the pull request acted on or found; 0 when there is none.
	Number int
	// State is that pull request's state as Decide read it ("" when Number
	// is 0): a skip naming an open one leaves it carrying the change, one
	// naming a merged one waits for the base to show it.
	State State
	// Linked is a pull request a human closed unmerged that the new one
	// supersedes; 0 when none.
	Linked int
	// Duplicates are further open pull requests of the bot on the same
	// branch. Decide acts on the newest only and leaves these alone (a
	// forge that allowed them is reported, never silently cleaned up).
	Duplicates []int

	// Push asks for the branch to be rebuilt from the base with Files and
	// force-pushed, provided it still points at Lease ("" = absent).
	Push    bool
	Lease   string
	Files   []File
	Message string
	// DeleteBranch asks for the branch to be deleted, provided it still
	// points at Lease.
	DeleteBranch bool

	// Title and Body are the rendered text the pull request should carry.
	Title string
	Body  string
	// Comment is posted by ActionCommentForeign, and by ActionClose unless
	// an earlier, interrupted close already posted it.
	Comment string
	// Open is filled for ActionCreate.
	Open *NewPullRequest
}

// Writes reports whether carrying out d writes anything to git or the forge.
func (d Decision) Writes() bool {
	return d.Action != ActionSkip && d.Action != ActionDefer
}

// botPR is a pull request with its decoded marker.
type botPR struct {
	PullRequest
	marker Marker
}

// Decide works out, without I/O, what a pass does for each group. prs are
// the pull requests found on the groups' branches (open, closed and
// merged); branches maps branch names to their state; a branch missing from
// it does not exist. It fails, before anything is written, when two groups
// share a branch.
func Decide(groups []Group, prs []PullRequest, branches map[string]Branch, s Settings) ([]Decision, error) {
	owner := make(map[string]string, len(groups))
	for _, g := range groups {
		if other, dup := owner[g.Branch]; dup {
			return nil, fmt.Errorf("groups %q and %q both use branch %q; give their policies distinct groups", other, g.Name, g.Branch)
		}
		owner[g.Branch] = g.Name
	}

	byHead := map[string][]botPR{}
	foreignOpen := map[string][]int{}
	open := 0
	for _, pr := range prs {
		m, ok := ParseMarker(pr.Body)
		if !ok {
			if pr.State == StateOpen {
				foreignOpen[pr.Head] = append(foreignOpen[pr.Head], pr.Number)
			}
			continue
		}
		byHead[pr.Head] = append(byHead[pr.Head], botPR{pr, m})
		if pr.State == StateOpen {
			open++
		}
	}

	out := make([]Decision, 0, len(groups))
	for _, g := range groups {
		d := decide(g, byHead[g.Branch], foreignOpen[g.Branch], branches[g.Branch], s)
		if d.Action == ActionCreate {
			if s.MaxOpen > 0 && open >= s.MaxOpen {
				d = Decision{
					Group: d.Group, Branch: d.Branch, Action: ActionDefer, Skip: SkipMaxOpen, Versions: d.Versions, Linked: d.Linked,
					Title: d.Title, Body: d.Body,
					Reason: fmt.Sprintf("maxOpen %d reached: %d pull requests of imagebump are open", s.MaxOpen, open),
				}
			} else {
				open++
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func decide(g Group, prs []botPR, foreignOpen []int, br Branch, s Settings) Decision {
	versions := versionsOf(g.Changes)
	d := Decision{Group: g.Name, Branch: g.Branch, Versions: versions, Lease: br.Head}

	// Newest first: the newest open pull request is the one acted on.
	slices.SortFunc(prs, func(a, b botPR) int { return cmp.Compare(b.Number, a.Number) })
	var openPRs []botPR
	for _, pr := range prs {
		if pr.State == StateOpen {
			openPRs = append(openPRs, pr)
		}
	}

	foreign := slices.ContainsFunc(br.Commits, func(c Commit) bool { return !c.ByBot })
	if foreign && len(openPRs) == 0 && slices.ContainsFunc(prs, func(pr botPR) bool { return pr.HeadSHA == br.Head }) {
		// The forge keeps the head of every pull request it has seen, so a
		// branch still at a closed or merged pull request's head loses
		// nothing when rebuilt.
		foreign = false
	}

	if g.Obsolete != "" {
		return obsolete(g, prs, openPRs, foreignOpen, foreign, br, d)
	}

	if len(openPRs) == 0 && len(foreignOpen) > 0 {
		d.Action, d.Skip = ActionSkip, SkipForeignPullRequest
		d.Number, d.State = foreignOpen[0], StateOpen
		d.Reason = fmt.Sprintf("open pull request #%d on branch %s was not opened by imagebump (no marker in its body); a second one is never opened", foreignOpen[0], g.Branch)
		return d
	}

	if len(openPRs) > 0 {
		pr := openPRs[0]
		d.Number, d.State = pr.Number, StateOpen
		for _, dup := range openPRs[1:] {
			d.Duplicates = append(d.Duplicates, dup.Number)
		}
		d.Linked = linked(prs, pr.Number)
		d.Title, d.Body = Title(g), Body(g, d.Linked)
		dupNote := ""
		if len(d.Duplicates) > 0 {
			dupNote = fmt.Sprintf("; imagebump pull requests %s are also open on this branch and are left alone", numbers(d.Duplicates))
		}
		if foreign {
			d.Skip = SkipForeignCommits
			if hasNote(pr.Comments, foreignNote) {
				d.Action = ActionSkip
				d.Reason = "branch has commits imagebump did not make; already commented, waiting until they are gone" + dupNote
				return d
			}
			d.Action = ActionCommentForeign
			d.Reason = "branch has commits imagebump did not make; they are never overwritten" + dupNote
			d.Comment = foreignComment(g.Branch)
			return d
		}
		if len(g.Files) == 0 {
			d.Action = ActionClose
			d.Reason = "the base branch already has the proposed values" + dupNote
			if !hasNote(pr.Comments, closeNote) {
				d.Comment = fmt.Sprintf("The base branch already has these values, so this pull request is no longer needed; imagebump closes it and deletes branch `%s`.\n\n%s", g.Branch, closeNote)
			}
			d.Body = setRetired(pr.Body, pr.marker)
			d.Versions = pr.marker.Versions
			d.DeleteBranch = br.Exists
			return d
		}
		branchOK := current(br, g)
		textOK := normalize(pr.Title) == normalize(d.Title) && normalize(pr.Body) == normalize(d.Body)
		switch {
		case branchOK && textOK:
			d.Action = ActionSkip
			d.Reason = "pull request already carries exactly the wanted change" + dupNote
		case branchOK:
			d.Action = ActionUpdateText
			d.Reason = "branch is current; title or body differ" + dupNote
		case textOK && br.Exists && sameFiles(br.Files, g.Files):
			d.Action = ActionUpdateBranch
			d.Reason = fmt.Sprintf("the base branch changed %s since the branch was built; rebuilt on its tip", strings.Join(br.Behind, ", ")) + dupNote
		case textOK:
			d.Action = ActionUpdateBranch
			d.Reason = "branch differs from the wanted change on the current base" + dupNote
		default:
			d.Action = ActionUpdate
			d.Reason = fmt.Sprintf("proposal changed from %s to %s", describe(pr.marker.Versions), describe(versions)) + dupNote
		}
		if !branchOK {
			d.Push, d.Files, d.Message = true, g.Files, message(g)
		}
		return d
	}

	if len(g.Files) == 0 {
		if i := slices.IndexFunc(prs, func(pr botPR) bool { return pr.State == StateMerged && pr.HeadSHA == br.Head }); i >= 0 && br.Exists && !foreign {
			d.Action = ActionDeleteBranch
			d.Number, d.State = prs[i].Number, StateMerged
			d.Reason = fmt.Sprintf("pull request #%d was merged and branch %s is left behind", prs[i].Number, g.Branch)
			return d
		}
		d.Action = ActionSkip
		d.Reason = "the base branch already has the values; no pull request is open"
		return d
	}
	for _, pr := range prs {
		if !sameTargets(pr.marker.Versions, versions) {
			continue
		}
		switch {
		case pr.State == StateMerged:
			d.Action = ActionSkip
			d.Number, d.State = pr.Number, StateMerged
			d.Reason = fmt.Sprintf("pull request #%d with these versions was merged; waiting for the base branch to show it", pr.Number)
			return d
		case pr.State == StateClosed && !pr.marker.Retired:
			d.Action, d.Skip = ActionSkip, SkipDeclined
			d.Number, d.State = pr.Number, StateClosed
			d.Reason = fmt.Sprintf("pull request #%d proposing these versions was closed without merging; they are not proposed again", pr.Number)
			return d
		}
	}
	if foreign {
		d.Action, d.Skip = ActionSkip, SkipForeignCommits
		d.Reason = fmt.Sprintf("branch %s has commits imagebump did not make and no open pull request; they are never overwritten (delete the branch to let imagebump go on)", g.Branch)
		return d
	}
	d.Action = ActionCreate
	d.Linked = linked(prs, 0)
	d.Title, d.Body = Title(g), Body(g, d.Linked)
	d.Reason = "no open pull request proposes " + describe(versions)
	if !current(br, g) {
		d.Push, d.Files, d.Message = true, g.Files, message(g)
	} else {
		d.Reason += "; branch already carries the change"
	}
	d.Open = &NewPullRequest{
		Head: g.Branch, Base: s.Base, Title: d.Title, Body: d.Body,
		Labels: s.Labels, Reviewers: s.Reviewers, TeamReviewers: s.TeamReviewers, Draft: s.Draft,
	}
	return d
}

// obsolete decides for a branch no group of the pass maps to: its open
// pull request is closed and the branch deleted, a branch without one is
// deleted, and commits by anyone else stop both (said once, on the pull
// request).
func obsolete(g Group, prs, openPRs []botPR, foreignOpen []int, foreign bool, br Branch, d Decision) Decision {
	if len(openPRs) == 0 {
		switch {
		case !br.Exists || g.KeepBranch:
			d.Action = ActionSkip
			d.Reason = g.Obsolete + "; nothing is left of it"
			if br.Exists {
				d.Reason = fmt.Sprintf("%s; branch %s lies outside the branch prefix and is left alone", g.Obsolete, g.Branch)
			}
		case len(foreignOpen) > 0:
			d.Action, d.Skip = ActionSkip, SkipForeignPullRequest
			d.Number, d.State = foreignOpen[0], StateOpen
			d.Reason = fmt.Sprintf("%s; open pull request #%d on branch %s was not opened by imagebump, so the branch is left alone", g.Obsolete, foreignOpen[0], g.Branch)
		case foreign || len(br.Commits) == 0:
			d.Action = ActionSkip
			if foreign {
				d.Skip = SkipForeignCommits
			}
			d.Reason = fmt.Sprintf("%s; branch %s has commits imagebump did not make (or none), so it is left alone", g.Obsolete, g.Branch)
		default:
			d.Action = ActionDeleteBranch
			d.Reason = g.Obsolete + "; no pull request is open on its branch"
			if i := slices.IndexFunc(prs, func(pr botPR) bool { return pr.HeadSHA == br.Head }); i >= 0 {
				d.Number, d.State = prs[i].Number, prs[i].State
			}
		}
		return d
	}
	pr := openPRs[0]
	d.Number, d.State = pr.Number, StateOpen
	for _, dup := range openPRs[1:] {
		d.Duplicates = append(d.Duplicates, dup.Number)
	}
	d.Versions = pr.marker.Versions
	if foreign {
		d.Skip = SkipForeignCommits
		if hasNote(pr.Comments, foreignNote) {
			d.Action = ActionSkip
			d.Reason = g.Obsolete + "; the branch has commits imagebump did not make, already commented"
			return d
		}
		d.Action = ActionCommentForeign
		d.Reason = g.Obsolete + "; the branch has commits imagebump did not make, so the pull request is left open"
		d.Comment = fmt.Sprintf("imagebump no longer proposes this: %s. Branch `%s` has commits imagebump did not make, so it leaves this pull request and its branch alone; close it when they are no longer needed.\n\n%s", g.Obsolete, g.Branch, foreignNote)
		return d
	}
	d.Action = ActionClose
	d.Reason = g.Obsolete
	d.DeleteBranch = br.Exists && !g.KeepBranch
	if !hasNote(pr.Comments, closeNote) {
		then := fmt.Sprintf(" and deletes branch `%s`", g.Branch)
		switch {
		case !br.Exists:
			then = fmt.Sprintf("; branch `%s` is gone already", g.Branch)
		case g.KeepBranch:
			then = fmt.Sprintf(" and leaves branch `%s`, outside its branch prefix, as it is", g.Branch)
		}
		d.Comment = fmt.Sprintf("imagebump no longer proposes this: %s. It closes this pull request%s.\n\n%s", g.Obsolete, then, closeNote)
	}
	d.Body = setRetired(pr.Body, pr.marker)
	return d
}

// linked returns the newest pull request a human closed unmerged before
// number (0: any), which a new or rebuilt pull request supersedes.
func linked(prs []botPR, before int) int {
	for _, pr := range prs { // newest first
		if pr.State == StateClosed && !pr.marker.Retired && (before == 0 || pr.Number < before) {
			return pr.Number
		}
	}
	return 0
}

// versionsOf lists a group's versions, one per policy, image and target
// value, in a stable order.
func versionsOf(changes []Change) []Version {
	var vs []Version
	for _, c := range changes {
		vs = append(vs, Version{Policy: c.Policy, Image: c.Image, From: c.From, To: c.To})
	}
	slices.SortFunc(vs, compareVersion)
	return slices.CompactFunc(vs, func(a, b Version) bool { return compareVersion(a, b) == 0 })
}

func compareVersion(a, b Version) int {
	return cmp.Or(cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.Image, b.Image), cmp.Compare(a.To, b.To), cmp.Compare(a.From, b.From))
}

// sameTargets reports whether two proposals move the same images of the
// same policies to the same values. From is left out: a declined 1.5.0 stays
// declined when someone moves the base from 1.4.2 to 1.4.3 meanwhile.
func sameTargets(a, b []Version) bool {
	key := func(vs []Version) []string {
		var ks []string
		for _, v := range vs {
			ks = append(ks, v.Policy+"\x00"+v.Image+"\x00"+v.To)
		}
		slices.Sort(ks)
		return slices.Compact(ks)
	}
	return slices.Equal(key(a), key(b))
}

// current reports whether the branch is what pushing g now would make,
// up to files the base changed elsewhere: it changes exactly the wanted
// files to the wanted contents, and the base has not moved in any of them
// since the branch was built.
func current(br Branch, g Group) bool {
	return br.Exists && sameFiles(br.Files, g.Files) && len(br.Behind) == 0
}

// sameFiles reports whether the branch changes exactly the wanted files to
// exactly the wanted contents.
func sameFiles(branch, wanted []File) bool {
	if len(branch) != len(wanted) {
		return false
	}
	have := make(map[string][]byte, len(branch))
	for _, f := range branch {
		have[f.Path] = f.Content
	}
	for _, f := range wanted {
		c, ok := have[f.Path]
		if !ok || c == nil || !bytes.Equal(c, f.Content) {
			return false
		}
	}
	return true
}

// normalize undoes what forges do to text on the way in (CRLF line ends,
// trimmed trailing space), so it does not count as a human edit.
func normalize(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

func describe(vs []Version) string {
	var parts []string
	for _, v := range vs {
		// Markers of one policy moving from different values share a
		// target: name it once.
		if p := v.Image + " " + v.To; !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func numbers(ns []int) string {
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprintf("#%d", n))
	}
	return strings.Join(parts, ", ")
}

func foreignComment(branch string) string {
	return fmt.Sprintf("Branch `%s` has commits imagebump did not make. imagebump never overwrites them, so it will not update this pull request until they are gone (drop them, or close this pull request and delete the branch).\n\n%s", branch, foreignNote)
}
