package main

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/policy"
	"github.com/imagebump/imagebump/problem"
)

// fluxPolicySpec is the policy of --flux-policy FILE:NAME: the ImagePolicy
// NAME ("namespace:name" or "name") in FILE, with its ImageRepository
// from FILE or the directory tree it is in, as plan would read it.
func fluxPolicySpec(arg string) (policy.Spec, error) {
	file, name, ok := strings.Cut(arg, ":")
	if !ok || file == "" || name == "" {
		return policy.Spec{}, usageError("--flux-policy %q: want FILE:NAME, e.g. clusters/prod/images.yaml:flux-system:podinfo", arg)
	}
	p, err := config.FluxPolicy(file, name)
	var problems problem.List
	if errors.As(err, &problems) {
		return policy.Spec{}, &exitError{code: exitInvalid, err: problems}
	}
	if err != nil {
		return policy.Spec{}, usageError("--flux-policy: %v", err)
	}
	return p.Spec(), nil
}

// policyFlagsSet names the policy flags set, which --flux-policy
// replaces.
func policyFlagsSet(fs *pflag.FlagSet) []string {
	var set []string
	fs.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "semver", "alphabetical", "numerical", "track", "filter", "extract", "exclude", "prereleases", "platform", "min-age":
			set = append(set, "--"+f.Name)
		}
	})
	return set
}
