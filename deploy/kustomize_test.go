package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
)

// The kustomize roots under test, relative to a copy of kubernetes/.
const (
	baseDir    = "."
	cronJobDir = "cronjob"
	sharedDir  = "shared"
)

// nonroot is the uid and gid of distroless's nonroot user, the USER of the
// Dockerfile.
const nonroot = 65532

// TestManifests builds the Deployment base and the CronJob overlay as
// shipped and expects no problem from the checks.
func TestManifests(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(*testing.T, string) []string
	}{
		{"base", checkBase},
		{"cronjob", checkCronJob},
		{"monitoring", checkMonitoring},
		{"networkpolicy", checkNetworkPolicy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A copy: the component checks write overlays beside it.
			dir := filepath.Join(t.TempDir(), "kubernetes")
			if err := os.CopyFS(dir, os.DirFS("kubernetes")); err != nil {
				t.Fatal(err)
			}
			for _, p := range tc.check(t, dir) {
				t.Error(p)
			}
		})
	}
}

// TestChecksCatch breaks a copy of the manifests in one place per case and
// expects the checks to report it: each rule TestManifests relies on can
// fail.
func TestChecksCatch(t *testing.T) {
	type edit struct{ file, old, new string }
	tests := []struct {
		name  string
		edits []edit
		want  string // in some problem; "" for none
	}{
		{"image not set by images:", []edit{{"deployment.yaml", "image: ghcr.io/imagebump/imagebump\n", "image: ghcr.io/imagebump/imagebump-old\n"}}, "image ghcr.io/imagebump/imagebump-old"},
		{"base renames the image", []edit{{"shared/kustomization.yaml", "  - name: ghcr.io/imagebump/imagebump\n    newTag: v0.1.0", "  - name: ghcr.io/imagebump/imagebump\n    newName: registry.example.com/imagebump\n    newTag: v0.1.0"}}, "an overlay's images: entry"},
		{"version label is not the tag", []edit{{"shared/kustomization.yaml", "app.kubernetes.io/version: v0.1.0", "app.kubernetes.io/version: v0.0.9"}}, "label app.kubernetes.io/version v0.0.9"},
		{"label missing", []edit{{"shared/kustomization.yaml", "      app.kubernetes.io/part-of: imagebump\n", ""}}, "no label app.kubernetes.io/part-of"},
		{"labels not on the pods", []edit{{"shared/kustomization.yaml", "    includeTemplates: true\n", ""}}, "pod template: no label app.kubernetes.io/version"},
		{"cronjob schedule drifts", []edit{{"cronjob/cronjob.yaml", `schedule: "*/10 * * * *"`, `schedule: "0 * * * *"`}}, "but the config's schedule"},
		{"cronjob time zone drifts", []edit{{"cronjob/cronjob.yaml", "timeZone: Etc/UTC", "timeZone: Europe/Berlin"}}, "runs in Etc/UTC"},
		{"config schedule in another zone", []edit{{"shared/config.yaml", `schedule: "*/10 * * * *"`, `schedule: "CRON_TZ=Europe/Berlin */10 * * * *"`}}, "runs in Europe/Berlin"},
		{"ssh key not mounted", []edit{
			{"shared/config.yaml", "url: https://github.com/acme/fleet.git", "url: ssh://git@github.com/acme/fleet.git"},
			{"shared/config.yaml", "      tokenFile: /var/run/secrets/imagebump/git/token\n", ""},
			{"shared/config.yaml", "# sshKeyFile: /var/run/secrets/imagebump/ssh/identity", "sshKeyFile: /var/run/secrets/imagebump/ssh/id_ed25519"},
			{"shared/config.yaml", "# knownHostsFile:", "knownHostsFile:"},
		}, "sshKeyFile /var/run/secrets/imagebump/ssh/id_ed25519 is not a mounted Secret key"},
		{"ssh config as shipped in the comments", []edit{
			{"shared/config.yaml", "url: https://github.com/acme/fleet.git", "url: ssh://git@github.com/acme/fleet.git"},
			{"shared/config.yaml", "      tokenFile: /var/run/secrets/imagebump/git/token\n", ""},
			{"shared/config.yaml", "# sshKeyFile:", "sshKeyFile:"},
			{"shared/config.yaml", "# knownHostsFile:", "knownHostsFile:"},
		}, ""},
		{"mounted secret not in the example", []edit{{"secrets.example.yaml", "name: imagebump-ssh", "name: imagebump-sshkey"}}, "Secret imagebump-ssh is mounted but not in secrets.example.yaml"},
		{"servicemonitor port", []edit{{"monitoring/servicemonitor.yaml", "- port: http", "- port: metrics"}}, "endpoint port \"metrics\""},
		{"servicemonitor selects nothing", []edit{{"monitoring/servicemonitor.yaml", "matchLabels:\n      app.kubernetes.io/name: imagebump", "matchLabels:\n      app.kubernetes.io/name: imagebump-x"}}, "ServiceMonitor: selector"},
		{"alert on a metric not exported", []edit{{"monitoring/prometheusrule.yaml", "imagebump_policy_failing == 1", "imagebump_policy_failed == 1"}}, "imagebump_policy_failed, which imagebump does not export"},
		{"networkpolicy without HTTPS", []edit{{"networkpolicy/networkpolicy.yaml", "        - port: 443", "        - port: 8443"}}, "port 443/TCP"},
		{"networkpolicy without DNS", []edit{{"networkpolicy/networkpolicy.yaml", "        - port: 53\n          protocol: UDP\n", ""}}, "port 53/UDP"},
		{"networkpolicy selects nothing", []edit{{"networkpolicy/networkpolicy.yaml", "podSelector:\n    matchLabels:\n      app.kubernetes.io/name: imagebump", "podSelector:\n    matchLabels:\n      app.kubernetes.io/name: other"}}, "podSelector"},
		{"networkpolicy ingress port", []edit{{"networkpolicy/networkpolicy.yaml", "        - port: http\n", "        - port: 9090\n"}}, "no ingress rule admits listen's port 8080"},
		{"registry on a port the networkpolicy lacks", []edit{{"shared/config.yaml", "  # hosts:\n  #   - host: registry.internal:5000\n", "  hosts:\n    - host: registry.internal:5000\n"}}, "port 5000/TCP"},
		{"command replaces the entrypoint", []edit{{"deployment.yaml", "args: [run,", "command: [/bin/sh]\n          args: [run,"}}, "command"},
		{"config file not mounted", []edit{{"deployment.yaml", "--config, /etc/imagebump/config.yaml]", "--config, /etc/imagebump/bot.yaml]"}}, "--config /etc/imagebump/bot.yaml"},
		{"dry run in production", []edit{{"deployment.yaml", "args: [run,", "args: [run, --dry-run,"}}, "--dry-run"},
		{"readiness path", []edit{{"deployment.yaml", "path: /readyz", "path: /ready"}}, "readinessProbe"},
		{"liveness port", []edit{{"deployment.yaml", "path: /healthz\n              port: http", "path: /healthz\n              port: 9090"}}, "livenessProbe"},
		{"listen is not the container port", []edit{{"shared/config.yaml", `listen: ":8080"`, `listen: ":9090"`}}, "listen"},
		{"scrape port", []edit{{"service.yaml", `prometheus.io/port: "8080"`, `prometheus.io/port: "9090"`}}, "prometheus.io/port"},
		{"service selects nothing", []edit{{"service.yaml", "selector:\n    app.kubernetes.io/name: imagebump", "selector:\n    app: imagebump"}}, "selector"},
		{"writable root filesystem", []edit{{"deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"}}, "readOnlyRootFilesystem"},
		{"privilege escalation", []edit{{"deployment.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"}}, "allowPrivilegeEscalation"},
		{"capabilities kept", []edit{{"deployment.yaml", "drop: [ALL]", "drop: [NET_RAW]"}}, "capabilities"},
		{"seccomp unconfined", []edit{{"deployment.yaml", "              type: RuntimeDefault", "              type: Unconfined"}}, "seccompProfile"},
		{"pod runs as root", []edit{{"deployment.yaml", "runAsUser: 65532            #", "runAsUser: 0            #"}}, "runAsUser"},
		{"no memory limit", []edit{{"deployment.yaml", "              memory: 512Mi", ""}}, "limits.memory"},
		{"service account token", []edit{{"deployment.yaml", "automountServiceAccountToken: false", "automountServiceAccountToken: true"}}, "automountServiceAccountToken"},
		{"tokenFile not mounted", []edit{{"shared/config.yaml", "tokenFile: /var/run/secrets/imagebump/git/token", "tokenFile: /var/run/secrets/imagebump/git/pat"}}, "tokenFile"},
		{"token key renamed", []edit{{"deployment.yaml", "- key: token", "- key: pat"}}, "key pat"},
		{"docker config key", []edit{{"deployment.yaml", "- key: .dockerconfigjson", "- key: config.json"}}, ".dockerconfigjson"},
		{"required secret not read", []edit{
			{"deployment.yaml", "optional: true            # public registries need none", "optional: false"},
			{"deployment.yaml", "value: /var/run/secrets/imagebump/docker", "value: /etc/docker"},
		}, "does not read"},
		{"docker config not mounted", []edit{{"deployment.yaml", "value: /var/run/secrets/imagebump/docker", "value: /etc/docker"}}, "DOCKER_CONFIG /etc/docker/config.json is not a mounted Secret key"},
		{"no docker config", []edit{{"deployment.yaml", "          env:\n            - name: DOCKER_CONFIG\n              value: /var/run/secrets/imagebump/docker\n", ""}}, "neither registries.dockerConfig nor DOCKER_CONFIG"},
		{"workDir read-only", []edit{{"deployment.yaml", "mountPath: /var/lib/imagebump\n", "mountPath: /var/lib/imagebump\n              readOnly: true\n"}}, "workDir"},
		{"workDir not mounted", []edit{{"shared/config.yaml", "workDir: /var/lib/imagebump", "workDir: /data"}}, "workDir"},
		{"environment variable not set", []edit{{"shared/config.yaml", "email: imagebump@users.noreply.github.com", "email: ${IMAGEBUMP_EMAIL}"}}, "${IMAGEBUMP_EMAIL}"},
		{"invalid config", []edit{{"shared/config.yaml", "mode: pullRequest ", "mode: pull "}}, "mode"},
		{"secret shipped in the base", []edit{{"service.yaml", "      targetPort: http\n", "      targetPort: http\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: imagebump-git\n"}}, "Secret/imagebump-git"},
		{"cronjob concurrency", []edit{{"cronjob/cronjob.yaml", "concurrencyPolicy: Forbid", "concurrencyPolicy: Allow"}}, "concurrencyPolicy"},
		{"cronjob without --once", []edit{{"cronjob/cronjob.yaml", "args: [run, --once,", "args: [run,"}}, "--once"},
		{"cronjob pod drifts", []edit{{"cronjob/cronjob.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"}}, "differs from the Deployment's"},
		{"cronjob with probes", []edit{{"cronjob/cronjob.yaml", "              resources:", "              livenessProbe: {httpGet: {path: /healthz, port: 8080}}\n              resources:"}}, "probe"},
		{"cronjob with a Service", []edit{{"cronjob/cronjob.yaml", "apiVersion: batch/v1", "apiVersion: v1\nkind: Service\nmetadata:\n  name: imagebump\nspec:\n  ports: [{port: 8080}]\n---\napiVersion: batch/v1"}}, "Service/imagebump"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kubernetes")
			if err := os.CopyFS(dir, os.DirFS("kubernetes")); err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.edits {
				file := filepath.Join(dir, filepath.FromSlash(e.file))
				src, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(string(src), e.old); n != 1 {
					t.Fatalf("%s holds %q %d times; the edit needs it once", e.file, e.old, n)
				}
				if err := os.WriteFile(file, []byte(strings.Replace(string(src), e.old, e.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, check := range []func(*testing.T, string) []string{checkBase, checkCronJob, checkMonitoring, checkNetworkPolicy} {
				got = append(got, check(t, dir)...)
			}
			t.Logf("problems:\n%s", strings.Join(got, "\n"))
			if tc.want == "" {
				if len(got) > 0 {
					t.Errorf("want no problem, got %d:\n%s", len(got), strings.Join(got, "\n"))
				}
				return
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentions %q; got %d:\n%s", tc.want, len(got), strings.Join(got, "\n"))
			}
		})
	}
}

// checkBase builds the Deployment base in dir and returns what is wrong
// with it.
func checkBase(t *testing.T, dir string) []string {
	t.Helper()
	var p problems
	m := build(t, &p, filepath.Join(dir, baseDir))
	if m == nil {
		return p
	}
	p.objects(m, map[string]int{"Deployment": 1, "Service": 1, "ServiceAccount": 1, "ConfigMap": 1})
	if len(m.deployments) != 1 {
		return p
	}
	d := m.deployments[0]
	if r := d.Spec.Replicas; r != nil && *r != 1 {
		p.addf("Deployment: replicas %d; two bots would race each other's pushes", *r)
	}
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
		p.addf("Deployment: selector %v does not match the pod labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels)
	}
	checkLabels(t, &p, dir, m, "Deployment", d.Spec.Template.Metadata.Labels)
	w := workload{"Deployment", d.Metadata.Name, d.Spec.Template}
	bot, c := checkPod(t, &p, dir, m, w)
	if bot == nil || c == nil {
		return p
	}
	if c.StartupProbe != nil {
		p.addf("Deployment: a startupProbe; /readyz may take a whole pass, /healthz needs none")
	}

	// The listen address, the container port, the probes and the Service
	// must agree on one port.
	_, portText, err := net.SplitHostPort(bot.Listen)
	listen, _ := strconv.Atoi(portText)
	if err != nil || listen == 0 {
		p.addf("config: listen %q has no port", bot.Listen)
		return p
	}
	if !slices.ContainsFunc(c.Ports, func(cp containerPort) bool { return cp.ContainerPort == listen }) {
		p.addf("Deployment: no container port is listen's %d", listen)
	}
	for _, pr := range []struct {
		field string
		probe *probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			p.addf("Deployment: no %s httpGet", pr.field)
			continue
		}
		if pr.probe.HTTPGet.Path != pr.path {
			p.addf("Deployment: %s path %s, want %s", pr.field, pr.probe.HTTPGet.Path, pr.path)
		}
		if got, ok := resolvePort(c, pr.probe.HTTPGet.Port); !ok || got != listen {
			p.addf("Deployment: %s port %v is not listen's port %d", pr.field, pr.probe.HTTPGet.Port, listen)
		}
	}
	if len(m.services) != 1 {
		return p
	}
	s := m.services[0]
	if !selects(s.Spec.Selector, d.Spec.Template.Metadata.Labels) {
		p.addf("Service: selector %v does not match the pod labels %v", s.Spec.Selector, d.Spec.Template.Metadata.Labels)
	}
	if !slices.ContainsFunc(s.Spec.Ports, func(sp servicePort) bool {
		got, ok := resolvePort(c, sp.TargetPort)
		return ok && got == listen
	}) {
		p.addf("Service: no port targets listen's port %d", listen)
	}
	for key, want := range map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/path":   "/metrics",
		"prometheus.io/port":   strconv.Itoa(listen),
	} {
		if got := s.Metadata.Annotations[key]; got != want {
			p.addf("Service: annotation %s is %q, want %q", key, got, want)
		}
	}
	return p
}

// checkCronJob builds the CronJob overlay in dir and returns what is wrong
// with it, including any difference of its pod from the base Deployment's
// other than what a job needs.
func checkCronJob(t *testing.T, dir string) []string {
	t.Helper()
	var p problems
	m := build(t, &p, filepath.Join(dir, cronJobDir))
	if m == nil {
		return p
	}
	p.objects(m, map[string]int{"CronJob": 1, "ServiceAccount": 1, "ConfigMap": 1})
	if len(m.cronJobs) != 1 {
		return p
	}
	cj := m.cronJobs[0]
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		p.addf("CronJob: concurrencyPolicy %q, want Forbid: two passes would push to the same branches", cj.Spec.ConcurrencyPolicy)
	}
	if cj.Spec.Schedule == "" {
		p.addf("CronJob: no schedule")
	}
	pod := cj.Spec.JobTemplate.Spec.Template
	if rp := pod.Spec.RestartPolicy; rp != "Never" && rp != "OnFailure" {
		p.addf("CronJob: restartPolicy %q", rp)
	}
	checkLabels(t, &p, dir, m, "CronJob", pod.Metadata.Labels)
	bot, c := checkPod(t, &p, dir, m, workload{"CronJob", cj.Metadata.Name, pod})
	if bot == nil || c == nil {
		return p
	}
	// run --once does not read the config's schedule: the CronJob's must
	// say the same, lest one of them be silently irrelevant.
	tz, spec := "", bot.Schedule
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(spec, prefix); ok {
			tz, spec, _ = strings.Cut(rest, " ")
			spec = strings.TrimSpace(spec)
		}
	}
	switch {
	case strings.HasPrefix(spec, "@every"):
		p.addf("CronJob: the config's schedule %q has no CronJob equivalent", bot.Schedule)
	case cj.Spec.Schedule != spec:
		p.addf("CronJob: schedule %q, but the config's schedule is %q", cj.Spec.Schedule, bot.Schedule)
	}
	if tz == "" {
		tz = "Etc/UTC" // the bot's zone without CRON_TZ: the image has no /etc/localtime
	}
	if cj.Spec.TimeZone != tz && !(tz == "Etc/UTC" && cj.Spec.TimeZone == "UTC") {
		p.addf("CronJob: timeZone %q, but the config's schedule %q runs in %s", cj.Spec.TimeZone, bot.Schedule, tz)
	}
	if !slices.Contains(c.Args, "--once") {
		p.addf("CronJob: args %v lack --once", c.Args)
	}
	if c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil || len(c.Ports) > 0 {
		p.addf("CronJob: a probe or port; run --once serves no HTTP")
	}

	// The pod is the Deployment's, but for what only a job has or needs.
	var base problems
	bm := build(t, &base, filepath.Join(dir, baseDir))
	if bm == nil || len(bm.deployments) != 1 {
		p.addf("CronJob: no base Deployment to compare with")
		return p
	}
	want := asJob(bm.deployments[0].Spec.Template.Spec)
	want.RestartPolicy = pod.Spec.RestartPolicy
	got := asJob(pod.Spec)
	if diff := cmp.Diff(want, got); diff != "" {
		p.addf("CronJob: pod differs from the Deployment's (-want +got):\n%s", diff)
	}
	return p
}

// asJob is s without what only a long-running pod has: probes, ports and
// args without --once.
func asJob(s podSpec) podSpec {
	s.Containers = slices.Clone(s.Containers)
	for i := range s.Containers {
		c := &s.Containers[i]
		c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Ports = nil, nil, nil, nil
		c.Args = slices.DeleteFunc(slices.Clone(c.Args), func(a string) bool { return a == "--once" })
	}
	return s
}

type workload struct {
	kind, name string
	pod        podTemplate
}

// checkPod checks what the Deployment and the CronJob share: the image,
// the command line, the security settings, and that the bot config in the
// ConfigMap is valid and finds every file it names mounted, and nothing
// else mounted. It returns the loaded config and the container, or nils.
func checkPod(t *testing.T, p *problems, dir string, m *manifests, w workload) (*config.Bot, *container) {
	t.Helper()
	at := w.kind
	spec := w.pod.Spec
	if len(spec.Containers) != 1 || len(spec.InitContainers) > 0 {
		p.addf("%s: %d containers and %d init containers, want the one", at, len(spec.Containers), len(spec.InitContainers))
		return nil, nil
	}
	c := &spec.Containers[0]

	if name, tag := baseImage(t, p, dir); c.Image != name+":"+tag {
		p.addf("%s: image %s, want %s:%s (the images: entry of %s/kustomization.yaml)", at, c.Image, name, tag, sharedDir)
	}
	// The image's ENTRYPOINT is /imagebump; args are its arguments.
	if len(c.Command) > 0 {
		p.addf("%s: command %v replaces the image's entrypoint", at, c.Command)
	}
	configPath := ""
	if len(c.Args) == 0 || c.Args[0] != "run" {
		p.addf("%s: args %v do not start with run", at, c.Args)
	}
	for i := 1; i < len(c.Args); i++ {
		switch a := c.Args[i]; {
		case a == "--config" && i+1 < len(c.Args):
			i++
			configPath = c.Args[i]
		case strings.HasPrefix(a, "--config="):
			configPath = strings.TrimPrefix(a, "--config=")
		case a == "--once":
		default:
			p.addf("%s: unexpected argument %s in %v", at, a, c.Args)
		}
	}

	// Security: the pod's settings, overridden by the container's; both,
	// where set, must be the hardened value.
	psc, csc := spec.SecurityContext, c.SecurityContext
	if psc.RunAsNonRoot == nil && csc.RunAsNonRoot == nil {
		p.addf("%s: runAsNonRoot unset", at)
	}
	for _, sc := range []struct {
		level string
		sc    securityContext
	}{{"pod", psc}, {"container", csc}} {
		if v := sc.sc.RunAsNonRoot; v != nil && !*v {
			p.addf("%s: %s runAsNonRoot false", at, sc.level)
		}
		for field, v := range map[string]*int64{"runAsUser": sc.sc.RunAsUser, "runAsGroup": sc.sc.RunAsGroup, "fsGroup": sc.sc.FSGroup} {
			if v != nil && *v != nonroot {
				p.addf("%s: %s %s %d, want %d (distroless nonroot)", at, sc.level, field, *v, nonroot)
			}
		}
		if v := sc.sc.SeccompProfile; v != nil && v.Type != "RuntimeDefault" {
			p.addf("%s: %s seccompProfile %s, want RuntimeDefault", at, sc.level, v.Type)
		}
	}
	if csc.RunAsUser == nil && psc.RunAsUser == nil {
		p.addf("%s: runAsUser unset, want %d", at, nonroot)
	}
	if csc.SeccompProfile == nil && psc.SeccompProfile == nil {
		p.addf("%s: seccompProfile unset, want RuntimeDefault", at)
	}
	if v := csc.ReadOnlyRootFilesystem; v == nil || !*v {
		p.addf("%s: readOnlyRootFilesystem not true", at)
	}
	if v := csc.AllowPrivilegeEscalation; v == nil || *v {
		p.addf("%s: allowPrivilegeEscalation not false", at)
	}
	if v := csc.Privileged; v != nil && *v {
		p.addf("%s: privileged", at)
	}
	if cp := csc.Capabilities; cp == nil || !slices.Equal(cp.Drop, []string{"ALL"}) || len(cp.Add) > 0 {
		p.addf("%s: capabilities %+v, want drop [ALL] and no add", at, cp)
	}
	if v := spec.AutomountServiceAccountToken; v == nil || *v {
		p.addf("%s: automountServiceAccountToken not false; the bot does not use the Kubernetes API", at)
	}
	if !slices.Contains(m.ids, "ServiceAccount/"+spec.ServiceAccountName) {
		p.addf("%s: serviceAccountName %q is not in the output %v", at, spec.ServiceAccountName, m.ids)
	}
	for _, kind := range []string{"requests", "limits"} {
		for _, res := range []string{"cpu", "memory"} {
			list := c.Resources.Requests
			if kind == "limits" {
				list = c.Resources.Limits
			}
			if list[res] == "" {
				p.addf("%s: no resources.%s.%s", at, kind, res)
			}
		}
	}

	// What the volumes put where.
	vols := map[string]volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	files := map[string]source{} // path in the container → Secret or ConfigMap key
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		switch {
		case !ok:
			p.addf("%s: mount %s names no volume", at, vm.Name)
			continue
		case vm.SubPath != "":
			p.addf("%s: mount %s uses subPath; its file would not follow a changed Secret", at, vm.MountPath)
			continue
		}
		var src source
		var items []keyToPath
		switch {
		case v.Secret != nil:
			src, items = source{kind: "Secret", name: v.Secret.SecretName, optional: v.Secret.Optional != nil && *v.Secret.Optional}, v.Secret.Items
		case v.ConfigMap != nil:
			src, items = source{kind: "ConfigMap", name: v.ConfigMap.Name}, v.ConfigMap.Items
		default:
			continue
		}
		if len(items) == 0 {
			p.addf("%s: volume %s mounts every key of %s %s; list items so the keys the config reads are explicit", at, v.Name, src.kind, src.name)
		}
		for _, it := range items {
			s := src
			s.key = it.Key
			files[path.Join(vm.MountPath, it.Path)] = s
		}
	}

	// The bot config: mounted from the ConfigMap, valid, and reading
	// exactly the mounted files.
	cmSrc, ok := files[configPath]
	if !ok || cmSrc.kind != "ConfigMap" {
		p.addf("%s: --config %s is not a mounted ConfigMap key", at, configPath)
		return nil, c
	}
	var text string
	found := false
	for _, cm := range m.configMaps {
		if cm.Metadata.Name == cmSrc.name {
			text, found = cm.Data[cmSrc.key]
		}
	}
	if !found {
		p.addf("%s: ConfigMap %s with key %s is not in the output", at, cmSrc.name, cmSrc.key)
		return nil, c
	}
	for _, name := range envRefs(text) {
		i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == name })
		if i < 0 {
			p.addf("%s: the config references ${%s}, which the container does not set", at, name)
			continue
		}
		value := c.Env[i].Value
		if c.Env[i].ValueFrom != nil {
			value = "value-of-" + name // from a Secret or the downward API: any value will do
		}
		t.Setenv(name, value)
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	bot, err := config.LoadBot(file, forges.All(), config.WithoutFiles())
	if err != nil {
		p.addf("%s: the config in ConfigMap %s is invalid: %v", at, cmSrc.name, err)
		return nil, c
	}

	secrets := exampleSecrets(t, p, dir)
	read := map[string]bool{configPath: true}
	need := func(field, file string, wantKey string) {
		if file == "" {
			return
		}
		read[file] = true
		src, ok := files[file]
		switch {
		case !ok:
			p.addf("%s: the config's %s %s is not a mounted Secret key", at, field, file)
		case src.kind != "Secret":
			p.addf("%s: the config's %s %s comes from %s %s, not a Secret", at, field, file, src.kind, src.name)
		case wantKey != "" && src.key != wantKey:
			p.addf("%s: the config's %s %s is key %s of Secret %s, want %s", at, field, file, src.key, src.name, wantKey)
		default:
			s, ok := secrets[src.name]
			if !ok {
				p.addf("%s: Secret %s is not in secrets.example.yaml", at, src.name)
				break
			}
			if !s.has(src.key) {
				p.addf("%s: Secret %s in secrets.example.yaml has no key %s", at, src.name, src.key)
			}
			if wantKey == dockerConfigKey && s.Type != "kubernetes.io/dockerconfigjson" {
				p.addf("%s: Secret %s in secrets.example.yaml is of type %q, not kubernetes.io/dockerconfigjson", at, src.name, s.Type)
			}
		}
	}
	for i, r := range bot.Repositories {
		need(fmt.Sprintf("repositories[%d].auth.tokenFile", i), r.Auth.TokenFile, "")
		need(fmt.Sprintf("repositories[%d].auth.sshKeyFile", i), r.Auth.SSHKeyFile, "")
		need(fmt.Sprintf("repositories[%d].auth.knownHostsFile", i), r.Auth.KnownHostsFile, "")
	}
	need("commit.signingKeyFile", bot.Commit.SigningKeyFile, "")
	// The docker config: the config's dockerConfig, else
	// $DOCKER_CONFIG/config.json as the registry client reads it.
	dockerConfig, dcField := bot.Registries.DockerConfig, "registries.dockerConfig"
	if dockerConfig == "" {
		i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == "DOCKER_CONFIG" })
		if i < 0 {
			p.addf("%s: neither registries.dockerConfig nor DOCKER_CONFIG is set: no registry credentials can be mounted", at)
		} else {
			dockerConfig, dcField = path.Join(c.Env[i].Value, "config.json"), "DOCKER_CONFIG"
		}
	}
	need(dcField, dockerConfig, dockerConfigKey)
	for i, h := range bot.Registries.Hosts {
		need(fmt.Sprintf("registries.hosts[%d].caFile", i), h.CAFile, "")
	}
	for f, src := range files {
		if src.kind == "Secret" {
			if s, ok := secrets[src.name]; !ok {
				p.addf("%s: Secret %s is mounted but not in secrets.example.yaml", at, src.name)
			} else if !s.has(src.key) {
				p.addf("%s: Secret %s in secrets.example.yaml has no key %s, which is mounted", at, src.name, src.key)
			}
		}
		// An optional Secret is offered for configs that need it (SSH
		// rather than a token); a required one must be read.
		if !read[f] && !src.optional {
			p.addf("%s: %s (%s %s key %s) is mounted, but the config does not read it", at, f, src.kind, src.name, src.key)
		}
	}

	// Writable places on a read-only root: workDir for the clones, and
	// the temporary directory.
	tmp := "/tmp"
	if i := slices.IndexFunc(c.Env, func(e envVar) bool { return e.Name == "TMPDIR" }); i >= 0 {
		tmp = c.Env[i].Value
	}
	for _, w := range []struct{ what, path string }{{"workDir", bot.WorkDir}, {"TMPDIR", tmp}} {
		i := slices.IndexFunc(c.VolumeMounts, func(vm volumeMount) bool { return within(w.path, vm.MountPath) })
		if i < 0 {
			p.addf("%s: %s %s is on no volume; the root filesystem is read-only", at, w.what, w.path)
			continue
		}
		vm := c.VolumeMounts[i]
		v := vols[vm.Name]
		writable := v.EmptyDir != nil || (v.PersistentVolumeClaim != nil && !v.PersistentVolumeClaim.ReadOnly)
		if vm.ReadOnly || !writable {
			p.addf("%s: %s %s is on volume %s, which is not a writable emptyDir or PVC", at, w.what, w.path, vm.Name)
		}
	}
	return bot, c
}

// dockerConfigKey is the key of a kubernetes.io/dockerconfigjson Secret.
const dockerConfigKey = ".dockerconfigjson"

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// envRefs lists the NAMEs of the ${NAME} references config.LoadBot expands:
// those in scalars, not in comments. A config that does not parse has
// none; LoadBot reports it.
func envRefs(text string) []string {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(text), &doc) != nil {
		return nil
	}
	var names []string
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			for _, m := range envRef.FindAllStringSubmatch(n.Value, -1) {
				names = append(names, m[1])
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return names
}

// recommended are the app.kubernetes.io labels every object and pod
// carries.
var recommended = []string{"name", "instance", "version", "component", "part-of"}

// checkLabels checks the recommended labels of every object of m and of
// the pod template of kind; the version label is the image's tag.
func checkLabels(t *testing.T, p *problems, dir string, m *manifests, kind string, pod map[string]string) {
	t.Helper()
	_, tag := baseImage(t, p, dir)
	check := func(at string, labels map[string]string) {
		for _, k := range recommended {
			k = "app.kubernetes.io/" + k
			if labels[k] == "" {
				p.addf("%s: no label %s", at, k)
			}
		}
		if v := labels["app.kubernetes.io/version"]; v != "" && v != tag {
			p.addf("%s: label app.kubernetes.io/version %s, but the image's tag is %s", at, v, tag)
		}
	}
	for _, id := range m.ids {
		check(id, m.labels[id])
	}
	check(kind+" pod template", pod)
}

// within reports whether file is dir or lies under it.
func within(file, dir string) bool {
	return file == dir || strings.HasPrefix(file, strings.TrimSuffix(dir, "/")+"/")
}

// selects reports whether every label of selector is in labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// resolvePort is the container port a probe or Service port (a number or
// a port name) names.
func resolvePort(c *container, port any) (int, bool) {
	switch v := port.(type) {
	case int:
		return v, true
	case string:
		for _, cp := range c.Ports {
			if cp.Name == v {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// baseImage reads the images: entry of the shared component: the name the
// pods use and the tag it sets. It must not rename the image: an overlay's
// `images: - name: NAME` matches the name the base's output carries, and
// would silently do nothing after a rename.
func baseImage(t *testing.T, p *problems, dir string) (name, tag string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, sharedDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
			NewTag  string `yaml:"newTag"`
			Digest  string `yaml:"digest"`
		} `yaml:"images"`
	}
	if err := yaml.Unmarshal(src, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Images) != 1 {
		p.addf("%s/kustomization.yaml: %d images: entries, want the one of the imagebump image", sharedDir, len(k.Images))
		return "", ""
	}
	img := k.Images[0]
	if img.NewName != "" && img.NewName != img.Name {
		p.addf("%s/kustomization.yaml: images: renames %s to %s; an overlay's images: entry named %s would then do nothing", sharedDir, img.Name, img.NewName, img.Name)
	}
	if img.NewTag == "" || img.Digest != "" {
		p.addf("%s/kustomization.yaml: images: entry %s sets no newTag (or a digest): the version label names a tag", sharedDir, img.Name)
	}
	return img.Name, img.NewTag
}

// exampleSecrets reads secrets.example.yaml, the shape of the Secrets users
// create, by name.
func exampleSecrets(t *testing.T, p *problems, dir string) map[string]secret {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "secrets.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]secret{}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var s secret
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.addf("secrets.example.yaml: %v", err)
			break
		}
		if s.Kind != "Secret" {
			p.addf("secrets.example.yaml: a %s", s.Kind)
			continue
		}
		out[s.Metadata.Name] = s
	}
	return out
}

// problems collects what is wrong, one message each.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// objects checks that the output holds exactly count objects of each kind,
// none of them with a namespace: users choose it.
func (p *problems) objects(m *manifests, count map[string]int) {
	got := map[string]int{}
	for _, id := range m.ids {
		kind, _, _ := strings.Cut(id, "/")
		got[kind]++
	}
	if diff := cmp.Diff(count, got); diff != "" {
		p.addf("objects by kind (-want +got):\n%s\nall: %v", diff, m.ids)
	}
	for id, ns := range m.namespaces {
		p.addf("%s: namespace %s is set; users choose it", id, ns)
	}
}

// build runs kustomize on dir as `kustomize build` does, from disk.
func build(t *testing.T, p *problems, dir string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		p.addf("kustomize build %s: %v", dir, err)
		return nil
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{namespaces: map[string]string{}, labels: map[string]map[string]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decoding the output of kustomize build %s: %v", dir, err)
		}
		var head struct {
			Kind     string `yaml:"kind"`
			Metadata meta   `yaml:"metadata"`
		}
		decode(t, &doc, &head)
		id := head.Kind + "/" + head.Metadata.Name
		m.ids = append(m.ids, id)
		m.labels[id] = head.Metadata.Labels
		if head.Metadata.Namespace != "" {
			m.namespaces[id] = head.Metadata.Namespace
		}
		switch head.Kind {
		case "Deployment":
			m.deployments = append(m.deployments, decodeAs[deployment](t, &doc))
		case "CronJob":
			m.cronJobs = append(m.cronJobs, decodeAs[cronJob](t, &doc))
		case "Service":
			m.services = append(m.services, decodeAs[service](t, &doc))
		case "ConfigMap":
			m.configMaps = append(m.configMaps, decodeAs[configMap](t, &doc))
		case "NetworkPolicy":
			m.netpols = append(m.netpols, decodeAs[networkPolicy](t, &doc))
		case "ServiceMonitor":
			m.monitors = append(m.monitors, decodeAs[serviceMonitor](t, &doc))
		case "PrometheusRule":
			m.rules = append(m.rules, decodeAs[prometheusRule](t, &doc))
		}
	}
	return m
}

func decode(t *testing.T, n *yaml.Node, v any) {
	t.Helper()
	if err := n.Decode(v); err != nil {
		t.Fatalf("decoding kustomize output: %v", err)
	}
}

func decodeAs[T any](t *testing.T, n *yaml.Node) T {
	t.Helper()
	var v T
	decode(t, n, &v)
	return v
}

// manifests is the output of one kustomize build, decoded into the fields
// the checks read.
type manifests struct {
	ids         []string                     // Kind/name, in output order
	namespaces  map[string]string            // Kind/name → namespace, where set
	labels      map[string]map[string]string // Kind/name → metadata.labels
	deployments []deployment
	cronJobs    []cronJob
	services    []service
	configMaps  []configMap
	netpols     []networkPolicy
	monitors    []serviceMonitor
	rules       []prometheusRule
}

// source is where a mounted file comes from.
type source struct {
	kind, name, key string
	optional        bool // a Secret marked optional: the pod starts without it
}

type meta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type deployment struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type cronJob struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Schedule          string `yaml:"schedule"`
		TimeZone          string `yaml:"timeZone"`
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct {
				Template podTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	} `yaml:"spec"`
}

type service struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []servicePort     `yaml:"ports"`
	} `yaml:"spec"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

type configMap struct {
	Metadata meta              `yaml:"metadata"`
	Data     map[string]string `yaml:"data"`
}

type secret struct {
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Type       string            `yaml:"type"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
}

func (s secret) has(key string) bool {
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	return inData || inString
}

type podTemplate struct {
	Metadata meta    `yaml:"metadata"`
	Spec     podSpec `yaml:"spec"`
}

type podSpec struct {
	ServiceAccountName           string          `yaml:"serviceAccountName"`
	AutomountServiceAccountToken *bool           `yaml:"automountServiceAccountToken"`
	EnableServiceLinks           *bool           `yaml:"enableServiceLinks"`
	RestartPolicy                string          `yaml:"restartPolicy"`
	SecurityContext              securityContext `yaml:"securityContext"`
	Containers                   []container     `yaml:"containers"`
	InitContainers               []container     `yaml:"initContainers"`
	Volumes                      []volume        `yaml:"volumes"`
}

// securityContext has the fields of a pod's and of a container's.
type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	RunAsGroup               *int64 `yaml:"runAsGroup"`
	FSGroup                  *int64 `yaml:"fsGroup"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Privileged               *bool  `yaml:"privileged"`
	Capabilities             *struct {
		Add  []string `yaml:"add"`
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile *struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type container struct {
	Name           string          `yaml:"name"`
	Image          string          `yaml:"image"`
	Command        []string        `yaml:"command"`
	Args           []string        `yaml:"args"`
	Env            []envVar        `yaml:"env"`
	Ports          []containerPort `yaml:"ports"`
	LivenessProbe  *probe          `yaml:"livenessProbe"`
	ReadinessProbe *probe          `yaml:"readinessProbe"`
	StartupProbe   *probe          `yaml:"startupProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext securityContext `yaml:"securityContext"`
	VolumeMounts    []volumeMount   `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom any    `yaml:"valueFrom"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	TimeoutSeconds   int `yaml:"timeoutSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
	ReadOnly  bool   `yaml:"readOnly"`
}

type keyToPath struct {
	Key  string `yaml:"key"`
	Path string `yaml:"path"`
}

type volume struct {
	Name   string `yaml:"name"`
	Secret *struct {
		SecretName  string      `yaml:"secretName"`
		Items       []keyToPath `yaml:"items"`
		DefaultMode *int        `yaml:"defaultMode"`
		Optional    *bool       `yaml:"optional"`
	} `yaml:"secret"`
	ConfigMap *struct {
		Name  string      `yaml:"name"`
		Items []keyToPath `yaml:"items"`
	} `yaml:"configMap"`
	EmptyDir *struct {
		Medium    string `yaml:"medium"`
		SizeLimit string `yaml:"sizeLimit"`
	} `yaml:"emptyDir"`
	PersistentVolumeClaim *struct {
		ClaimName string `yaml:"claimName"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"persistentVolumeClaim"`
}

type networkPolicy struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From  []any        `yaml:"from"`
			Ports []netpolPort `yaml:"ports"`
		} `yaml:"ingress"`
		Egress []struct {
			To    []any        `yaml:"to"`
			Ports []netpolPort `yaml:"ports"`
		} `yaml:"egress"`
	} `yaml:"spec"`
}

type netpolPort struct {
	Port     any    `yaml:"port"`
	Protocol string `yaml:"protocol"`
}

type serviceMonitor struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		NamespaceSelector map[string]any `yaml:"namespaceSelector"`
		Endpoints         []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

type prometheusRule struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	} `yaml:"spec"`
}
