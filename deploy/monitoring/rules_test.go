package monitoring

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v4"
)

// promtool is found on PATH (Debian's prometheus package installs
// /usr/bin/promtool). Missing, the test is skipped, or fails under
// CI=true, as the other prerequisites do.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		msg := "promtool not found: apt-get install prometheus (make packages) to unit-test the alert rules"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func TestRulesCheck(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "imagebump.rules.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestRulesUnit runs the rules' unit tests, imagebump.rules.test.yml.
func TestRulesUnit(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", "imagebump.rules.test.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestPrometheusRuleMatchesRulesFile keeps the two forms of the rules
// equal.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	var plain struct {
		Groups any `yaml:"groups"`
	}
	var pr struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Spec       struct {
			Groups any `yaml:"groups"`
		} `yaml:"spec"`
	}
	readYAML(t, "imagebump.rules.yml", &plain)
	readYAML(t, "../kubernetes/monitoring/prometheusrule.yaml", &pr)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Errorf("prometheusrule.yaml is %s %s, want monitoring.coreos.com/v1 PrometheusRule", pr.APIVersion, pr.Kind)
	}
	if plain.Groups == nil {
		t.Fatal("imagebump.rules.yml has no groups")
	}
	if diff := cmp.Diff(plain.Groups, pr.Spec.Groups); diff != "" {
		t.Errorf("prometheusrule.yaml spec.groups differ from imagebump.rules.yml (-rules file +PrometheusRule):\n%s", diff)
	}
}

// TestRulesUseExportedMetrics checks that every imagebump_ metric an
// alert names is one the bot exports, so that a renamed metric cannot
// leave an alert that never fires.
func TestRulesUseExportedMetrics(t *testing.T) {
	src, err := os.ReadFile("../../cmd/imagebump/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	exported := regexp.MustCompile(`"(imagebump_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	var names []string
	for _, m := range exported {
		names = append(names, m[1])
	}
	rules, err := os.ReadFile("imagebump.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`imagebump_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("no imagebump_ metric found in the rules")
	}
	for _, u := range used {
		if !slices.Contains(names, u) {
			t.Errorf("the rules use %s, which cmd/imagebump/metrics.go does not export (it exports %v)", u, names)
		}
	}
}
