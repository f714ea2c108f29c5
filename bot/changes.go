package bot

import (
	"cmp"
	"slices"
	"strings"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter"
	"github.com/imagebump/imagebump/gitwriter/pullrequest"
	"github.com/imagebump/imagebump/patcher"
)

// The one place changes cross from one package's shape to another's. The
// patcher reports one change per rewritten field (patcher.Change); a commit
// message lists the same fields with their image (gitwriter.Change, made
// by changeSet); a pull request lists one line per policy and old value
// with the files it is in (pullrequest.Change, made by groupChanges from
// the commit's changes). gitwriter and pullrequest cannot share the
// patcher's type: the import rules keep the leaves apart.

// changeSet is the commit of a plan: its files and the changes they carry.
func changeSet(pols *config.Policies, plan *patcher.Plan) gitwriter.ChangeSet {
	var cs gitwriter.ChangeSet
	for _, f := range plan.Files {
		cs.Files = append(cs.Files, gitwriter.File{Path: f.Path, Content: f.New})
	}
	for _, c := range plan.Changes {
		image := ""
		if p := pols.Lookup(c.Policy); p != nil {
			image = p.Spec().Image
		}
		cs.Changes = append(cs.Changes, gitwriter.Change{File: c.File, Image: image, Policy: c.Policy, Field: string(c.Field), Old: c.Old, New: c.New})
	}
	return cs
}

// groupChanges summarises a group's field changes for the pull request:
// one entry per policy and old tag, with the files it is in and the tag and
// digest its policy resolved to.
func groupChanges(members []Resolution, fields []gitwriter.Change) []pullrequest.Change {
	byPolicy := map[string]Resolution{}
	for _, m := range members {
		byPolicy[m.Policy.Name()] = m
	}
	var out []pullrequest.Change
	index := map[[2]string]int{}
	for _, c := range fields {
		m, ok := byPolicy[c.Policy]
		if !ok {
			continue
		}
		from := ""
		switch patcher.Field(c.Field) {
		case patcher.FieldRef:
			from = tagOf(c.Old)
		case patcher.FieldTag:
			from = c.Old
		}
		k := [2]string{c.Policy, from}
		i, ok := index[k]
		if !ok && from == "" {
			// A digest or name field: it belongs with the policy's tag
			// change when there is one.
			for j, o := range out {
				if o.Policy == c.Policy {
					i, ok = j, true
					break
				}
			}
		}
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, pullrequest.Change{Policy: c.Policy, Image: m.Policy.Spec().Image, From: from, To: m.Tag, Digest: m.Digest})
		}
		if !slices.Contains(out[i].Files, c.File) {
			out[i].Files = append(out[i].Files, c.File)
		}
	}
	slices.SortFunc(out, func(a, b pullrequest.Change) int {
		return cmp.Or(cmp.Compare(a.Policy, b.Policy), cmp.Compare(a.From, b.From))
	})
	return out
}

// tagOf returns the tag (with its digest) of an image reference, or the
// whole reference when it has no tag.
func tagOf(ref string) string {
	name, digest, _ := strings.Cut(ref, "@")
	i := strings.LastIndexByte(name, ':')
	if i < 0 || i < strings.LastIndexByte(name, '/') {
		return ref
	}
	if digest != "" {
		return name[i+1:] + "@" + digest
	}
	return name[i+1:]
}
