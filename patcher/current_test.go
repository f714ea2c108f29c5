package patcher

import "testing"

// TestCurrentContexts puts current-looking marker lines where YAML reads
// them differently (flow collections, block scalars, complex keys); where
// the file parses, the shortcut must agree with parsing.
func TestCurrentContexts(t *testing.T) {
	m := ` # {"$imagepolicy": "web"}`
	for _, src := range []string{
		"[\nkey: ghcr.io/acme/web:1.5.0" + m + "\n]\n",
		"{\nkey: ghcr.io/acme/web:1.5.0" + m + "\n}\n",
		"a: [\n  ghcr.io/acme/web:1.5.0" + m + "\n]\n",
		"a:\n- b: ghcr.io/acme/web:1.5.0" + m + "\n",
		"a: |\n  b: ghcr.io/acme/web:1.5.0" + m + "\n",
		"a: >-\n  b: ghcr.io/acme/web:1.4.0" + m + "\n",
		"? a\n: ghcr.io/acme/web:1.5.0" + m + "\n",
		"k:\n  key: ghcr.io/acme/web:1.5.0" + m + "\n  # {\"$imagepolicy\": \"web\"}\n",
		"k: 'ghcr.io/acme/web:1.5.0'" + m + "\nl: \"ghcr.io/acme/web:1.5.0\"" + m + "\n",
		"k: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"nosuch\"}\n",
		"k: ghcr.io/acme/web:2.0.0" + m + "\n",
		"k: &a ghcr.io/acme/web:1.5.0" + m + "\n",
		"k: ghcr.io/acme/web:1.5.0 # {\"$imagepolicy\": \"web\"} disabled\n",
	} {
		if _, err := parseAll([]byte(src)); err != nil {
			t.Fatalf("test input does not parse: %v\n%s", err, src)
		}
		checkCurrent(t, []byte(src), testTargets())
	}
}
