package gitwriter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// checkRefName applies git's ref-name rules (git check-ref-format) to a
// full ref name such as refs/heads/imagebump/web.
func checkRefName(name string) error {
	switch {
	case name == "" || name == "@":
		return fmt.Errorf("%q is not a valid ref name", name)
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return errors.New("begins or ends with /")
	case strings.HasSuffix(name, "."):
		return errors.New("ends with .")
	case strings.Contains(name, ".."):
		return errors.New("contains ..")
	case strings.Contains(name, "@{"):
		return errors.New("contains @{")
	case strings.Contains(name, "//"):
		return errors.New("contains //")
	}
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("contains the control character %U", r)
		case strings.ContainsRune(" ~^:?*[\\", r):
			return fmt.Errorf("contains %q", r)
		}
	}
	for c := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(c, ".") {
			return fmt.Errorf("component %q begins with .", c)
		}
		if strings.HasSuffix(c, ".lock") {
			return fmt.Errorf("component %q ends with .lock", c)
		}
	}
	return nil
}

// BranchName returns the bot branch of a pull-request group: prefix then
// the group with ":" replaced by "-" (policy names may hold ":"), checked
// against git's ref-name rules.
func BranchName(prefix, group string) (string, error) {
	if group == "" {
		return "", errors.New("branch name: the group is empty")
	}
	name := prefix + strings.ReplaceAll(group, ":", "-")
	if name == "@" {
		return "", fmt.Errorf("branch name %q for group %q is not a valid ref name", name, group)
	}
	if strings.HasPrefix(name, "-") {
		return "", fmt.Errorf("branch name %q for group %q: begins with -", name, group)
	}
	if err := checkRefName("refs/heads/" + name); err != nil {
		return "", fmt.Errorf("branch name %q for group %q: %w", name, group, err)
	}
	return name, nil
}

// BranchNames returns the branch of each group (group → branch). Two groups
// that map to one branch (a:b and a-b) are an error naming both, found
// before anything is pushed; so is a group whose branch is invalid.
func BranchNames(prefix string, groups []string) (map[string]string, error) {
	sorted := slices.Clone(groups)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	names := make(map[string]string, len(sorted))
	owner := make(map[string]string, len(sorted))
	var errs []error
	for _, g := range sorted {
		b, err := BranchName(prefix, g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := owner[b]; ok {
			errs = append(errs, fmt.Errorf("groups %q and %q both map to branch %q; rename one", other, g, b))
			continue
		}
		owner[b] = g
		names[g] = b
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return names, nil
}
