package deploy_test

import (
	"github.com/imagebump/imagebump/gitwriter/forges"

	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/imagebump/imagebump/config"
)

// The optional components, relative to a copy of kubernetes/.
const (
	monitoringDir    = "monitoring"
	networkPolicyDir = "networkpolicy"
)

// overlay writes a kustomization beside dir (the kubernetes/ copy) that
// includes resources and components given relative to dir, and returns
// its directory: what an operator's overlay does.
func overlay(t *testing.T, dir, label string, resources, components []string, extra string) string {
	t.Helper()
	o := filepath.Join(filepath.Dir(dir), "overlay-"+label)
	if err := os.MkdirAll(o, 0o755); err != nil {
		t.Fatal(err)
	}
	rel := func(list []string) string {
		var b strings.Builder
		for _, r := range list {
			fmt.Fprintf(&b, "  - ../%s\n", filepath.ToSlash(filepath.Join(filepath.Base(dir), r)))
		}
		return b.String()
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + rel(resources)
	if len(components) > 0 {
		k += "components:\n" + rel(components)
	}
	k += extra
	if err := os.WriteFile(filepath.Join(o, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return o
}

// checkMonitoring builds the base with the monitoring component and
// returns what is wrong: the ServiceMonitor must scrape the Service's
// metrics port, and every alert must use metrics the bot exports.
func checkMonitoring(t *testing.T, dir string) []string {
	t.Helper()
	var p problems
	m := build(t, &p, overlay(t, dir, "monitoring", []string{baseDir}, []string{monitoringDir}, ""))
	if m == nil {
		return p
	}
	p.objects(m, map[string]int{"Deployment": 1, "Service": 1, "ServiceAccount": 1, "ConfigMap": 1, "ServiceMonitor": 1, "PrometheusRule": 1})
	if len(m.services) != 1 || len(m.monitors) != 1 || len(m.rules) != 1 {
		return p
	}
	s, sm := m.services[0], m.monitors[0]
	if !selects(sm.Spec.Selector.MatchLabels, s.Metadata.Labels) {
		p.addf("ServiceMonitor: selector %v does not match the Service's labels %v", sm.Spec.Selector.MatchLabels, s.Metadata.Labels)
	}
	if len(sm.Spec.NamespaceSelector) > 0 {
		p.addf("ServiceMonitor: a namespaceSelector; the Service is in the ServiceMonitor's namespace")
	}
	if len(sm.Spec.Endpoints) == 0 {
		p.addf("ServiceMonitor: no endpoints")
	}
	for _, e := range sm.Spec.Endpoints {
		if !slices.ContainsFunc(s.Spec.Ports, func(sp servicePort) bool { return sp.Name == e.Port }) {
			p.addf("ServiceMonitor: endpoint port %q is no port name of the Service", e.Port)
		}
		if e.Path != "/metrics" {
			p.addf("ServiceMonitor: endpoint path %q, want /metrics", e.Path)
		}
	}

	exported := exportedMetrics(t)
	n := 0
	for _, g := range m.rules[0].Spec.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" {
				p.addf("PrometheusRule: a rule without alert name or expr in group %s", g.Name)
			}
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				p.addf("PrometheusRule: alert %s uses no imagebump metric", r.Alert)
			}
			for _, name := range names {
				if !exported[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")] {
					p.addf("PrometheusRule: alert %s uses %s, which imagebump does not export", r.Alert, name)
				}
			}
		}
	}
	if n == 0 {
		p.addf("PrometheusRule: no rules")
	}
	return p
}

var metricName = regexp.MustCompile(`\bimagebump_[a-z_]+\b`)

// exportedMetrics are the metric names cmd/imagebump registers: the
// string literals of its metrics code.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../cmd/imagebump/*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	lit := regexp.MustCompile(`"(imagebump_[a-z_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			out[m[1]] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("no metric names found in cmd/imagebump")
	}
	return out
}

// checkNetworkPolicy builds the Deployment base and the CronJob each with
// the networkpolicy component and returns what is wrong: the policy must
// select the pods, admit the HTTP port (Deployment), and let out DNS and
// every port the shipped config needs.
func checkNetworkPolicy(t *testing.T, dir string) []string {
	t.Helper()
	var p problems
	bot, err := config.LoadBot(filepath.Join(dir, sharedDir, "config.yaml"), forges.All(), config.WithoutFiles())
	if err != nil {
		p.addf("config: %v", err)
		return p
	}
	need, err := egressPorts(bot)
	if err != nil {
		p.addf("config: %v", err)
		return p
	}
	for _, root := range []string{baseDir, cronJobDir} {
		m := build(t, &p, overlay(t, dir, "netpol-"+root, []string{root}, []string{networkPolicyDir}, ""))
		if m == nil {
			continue
		}
		at := "NetworkPolicy with " + filepath.Join("kubernetes", root)
		if len(m.netpols) != 1 {
			p.addf("%s: %d NetworkPolicies, want 1", at, len(m.netpols))
			continue
		}
		np := m.netpols[0]
		var pod podTemplate
		switch {
		case len(m.deployments) == 1:
			pod = m.deployments[0].Spec.Template
		case len(m.cronJobs) == 1:
			pod = m.cronJobs[0].Spec.JobTemplate.Spec.Template
		default:
			p.addf("%s: no Deployment or CronJob", at)
			continue
		}
		if !selects(np.Spec.PodSelector.MatchLabels, pod.Metadata.Labels) {
			p.addf("%s: podSelector %v does not select the pods %v", at, np.Spec.PodSelector.MatchLabels, pod.Metadata.Labels)
		}
		for _, pt := range []string{"Ingress", "Egress"} {
			if !slices.Contains(np.Spec.PolicyTypes, pt) {
				p.addf("%s: policyTypes %v lack %s", at, np.Spec.PolicyTypes, pt)
			}
		}
		if root == baseDir && len(pod.Spec.Containers) == 1 {
			c := &pod.Spec.Containers[0]
			_, portText, _ := net.SplitHostPort(bot.Listen)
			listen, _ := strconv.Atoi(portText)
			ok := false
			for _, in := range np.Spec.Ingress {
				for _, pp := range in.Ports {
					if got, resolved := resolvePort(c, pp.Port); resolved && got == listen && protocol(pp) == "TCP" {
						ok = true
					}
				}
			}
			if !ok {
				p.addf("%s: no ingress rule admits listen's port %d", at, listen)
			}
		}
		for _, want := range append([]netpolPort{{53, "UDP"}, {53, "TCP"}}, need...) {
			admitted := slices.ContainsFunc(np.Spec.Egress, func(e struct {
				To    []any        `yaml:"to"`
				Ports []netpolPort `yaml:"ports"`
			}) bool {
				if len(e.To) > 0 {
					return false // to some addresses only: not "the registry, wherever it is"
				}
				return len(e.Ports) == 0 || slices.ContainsFunc(e.Ports, func(pp netpolPort) bool {
					return pp.Port == want.Port && protocol(pp) == want.Protocol
				})
			})
			if !admitted {
				p.addf("%s: no egress rule lets out port %v/%s, which the config needs", at, want.Port, want.Protocol)
			}
		}
	}
	return p
}

func protocol(p netpolPort) string {
	if p.Protocol == "" {
		return "TCP"
	}
	return p.Protocol
}

// egressPorts are the TCP ports the config reaches: each repository's git
// URL and forge API, and each configured registry host (others are HTTPS,
// 443).
func egressPorts(bot *config.Bot) ([]netpolPort, error) {
	var out []netpolPort
	add := func(port int) {
		pp := netpolPort{port, "TCP"}
		if !slices.Contains(out, pp) {
			out = append(out, pp)
		}
	}
	add(443) // registries of policies, api.github.com
	portOf := func(raw string) (int, error) {
		if !strings.Contains(raw, "://") { // scp-like user@host:path
			return 22, nil
		}
		u, err := url.Parse(raw)
		if err != nil {
			return 0, err
		}
		if p := u.Port(); p != "" {
			return strconv.Atoi(p)
		}
		switch u.Scheme {
		case "https":
			return 443, nil
		case "http":
			return 80, nil
		case "ssh":
			return 22, nil
		}
		return 0, fmt.Errorf("%s: unknown scheme %s", raw, u.Scheme)
	}
	for _, r := range bot.Repositories {
		for _, raw := range []string{r.URL, r.APIURL} {
			if raw == "" {
				continue
			}
			port, err := portOf(raw)
			if err != nil {
				return nil, err
			}
			add(port)
		}
	}
	for _, h := range bot.Registries.Hosts {
		if _, port, err := net.SplitHostPort(h.Host); err == nil {
			n, err := strconv.Atoi(port)
			if err != nil {
				return nil, fmt.Errorf("registries.hosts: %s: %w", h.Host, err)
			}
			add(n)
		}
	}
	return out, nil
}

// TestImageOverride is the README's way of deploying another image: an
// overlay's images: entry with the name the base uses. It must change the
// image of the Deployment and the CronJob.
func TestImageOverride(t *testing.T) {
	var p problems
	name, _ := baseImage(t, &p, "kubernetes")
	if name == "" {
		t.Fatalf("no image name in the base: %v", p)
	}
	dir := filepath.Join(t.TempDir(), "kubernetes")
	if err := os.CopyFS(dir, os.DirFS("kubernetes")); err != nil {
		t.Fatal(err)
	}
	const want = "registry.example.com/mirror/imagebump:v9.9.9"
	for _, root := range []string{baseDir, cronJobDir} {
		t.Run(root, func(t *testing.T) {
			o := overlay(t, dir, "image-"+root, []string{root}, nil,
				"images:\n  - name: "+name+"\n    newName: registry.example.com/mirror/imagebump\n    newTag: v9.9.9\n")
			var p problems
			m := build(t, &p, o)
			if m == nil {
				t.Fatal(p)
			}
			var got []string
			for _, d := range m.deployments {
				got = append(got, d.Spec.Template.Spec.Containers[0].Image)
			}
			for _, cj := range m.cronJobs {
				got = append(got, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image)
			}
			if len(got) != 1 || got[0] != want {
				t.Errorf("images after the overlay's images: name: %s: %v, want [%s]", name, got, want)
			}
		})
	}
}
