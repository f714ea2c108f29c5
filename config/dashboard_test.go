package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/test/filetree"
)

func TestDashboardSetting(t *testing.T) {
	const pol = "policies:\n  - name: web\n    image: r.io/web\n    semver: '*'\n"
	tests := []struct {
		name     string
		files    map[string]string
		want     Dashboard
		problems string
	}{
		{"off by default", map[string]string{".imagebump.yaml": pol}, Dashboard{}, ""},
		{"on, default title", map[string]string{".imagebump.yaml": pol + "dashboard: {enabled: true}\n"},
			Dashboard{Enabled: true, Title: DefaultDashboardTitle}, ""},
		{"on, own title", map[string]string{".imagebump.yaml": pol + "dashboard:\n  enabled: true\n  title: ' Fleet dashboard '\n"},
			Dashboard{Enabled: true, Title: "Fleet dashboard"}, ""},
		{"root file only", map[string]string{".imagebump.yaml": pol, "apps/.imagebump.yaml": "dashboard: {enabled: true}\n"},
			Dashboard{}, "apps/.imagebump.yaml:1: dashboard is read from the repository's root policy file only"},
		{"unknown field", map[string]string{".imagebump.yaml": pol + "dashboard:\n  enable: true\n"},
			Dashboard{}, `.imagebump.yaml:6: unknown field "enable"`},
		{"title too long", map[string]string{".imagebump.yaml": pol + "dashboard:\n  enabled: true\n  title: " + strings.Repeat("x", 256) + "\n"},
			Dashboard{}, ".imagebump.yaml:7: dashboard.title: one line of at most 255 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pols, err := LoadPolicies(filetree.Write(t, tc.files))
			if tc.problems != "" {
				if err == nil || !strings.Contains(err.Error(), tc.problems) {
					t.Fatalf("error %v; want it to hold %q", err, tc.problems)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, pols.Dashboard); diff != "" {
				t.Errorf("dashboard (-want +got):\n%s", diff)
			}
		})
	}
}
