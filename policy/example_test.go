package policy_test

import (
	"fmt"
	"strings"

	"github.com/imagebump/imagebump/policy"
)

func ExamplePolicy_Select() {
	p, err := policy.New(policy.Spec{
		Name:   "web",
		Image:  "ghcr.io/acme/web",
		SemVer: ">=1.0.0 <2.0.0",
	})
	if err != nil {
		panic(err)
	}
	tag, err := p.Select([]string{"latest", "1.4.2", "v1.10.0", "1.11.0-rc.1", "2.0.0"})
	fmt.Println(tag, err)
	// Output: v1.10.0 <nil>
}

func ExamplePolicy_Explain() {
	p := policy.MustNew(policy.Spec{
		Name:    "api",
		Image:   "ghcr.io/acme/api",
		SemVer:  "^1",
		Filter:  &policy.Filter{Pattern: `^(?P<v>.+)-alpine$`, Extract: "$v"},
		Exclude: []string{`^1\.3\.`},
	})
	e := p.Explain([]string{"1.2.0-alpine", "1.3.0-alpine", "1.2.1", "1.2.5-alpine", "2.0.0-alpine"})
	fmt.Println("selected:", e.Selected)
	for _, v := range e.Verdicts {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-13s %-14s %s", v.Tag, v.Reason, v.Detail)))
	}
	// Output:
	// selected: 1.2.5-alpine
	// 1.2.5-alpine  candidate
	// 1.2.0-alpine  candidate
	// 1.2.1         no filter match does not match filterTags.pattern '^(?P<v>.+)-alpine$'
	// 1.3.0-alpine  excluded       excluded by '^1\.3\.'
	// 2.0.0-alpine  outside range  2.0.0 is outside the range "^1"
}

func ExamplePolicy_Higher() {
	p := policy.MustNew(policy.Spec{Name: "web", Image: "ghcr.io/acme/web", SemVer: "<2.0.0"})
	fmt.Println(p.Higher("2.0.0", "1.9.0"), p.Higher("1.8.0", "1.9.0"))
	// Output: true false
}
