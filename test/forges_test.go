package test

import (
	"slices"
	"testing"

	"github.com/imagebump/imagebump/gitwriter/forge"
	"github.com/imagebump/imagebump/gitwriter/forges"
)

// forgeKind is the entry of the forge table run uses for name.
func forgeKind(t *testing.T, name string) forge.Kind {
	t.Helper()
	k, ok := forges.All().Lookup(name)
	if !ok {
		t.Fatalf("the forge table has no %s", name)
	}
	return k
}

// TestForgeTable checks that the table run uses is well formed and that
// every forge in it runs the lifecycle scenarios: a forge added to the
// table without its lifecycle row fails here.
func TestForgeTable(t *testing.T) {
	all := forges.All()
	if err := all.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if !slices.ContainsFunc(prForges, func(f prForge) bool { return f.name == k.Name }) {
			t.Errorf("forge %s has no row in prForges: the lifecycle scenarios do not run on it", k.Name)
		}
	}
}
