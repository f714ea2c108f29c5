package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/imagebump/imagebump/bot"
)

// The sharded overlays, relative to a copy of kubernetes/.
const (
	shardedCronJobDir = "sharded-cronjob"
	statefulSetDir    = "statefulset"
)

// TestShardOverlays builds the two sharded overlays as shipped and
// expects no problem from their checks.
func TestShardOverlays(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(*testing.T, string) []string
	}{
		{"indexed cronjob", checkShardedCronJob},
		{"statefulset", checkStatefulSet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range tc.check(t, "kubernetes") {
				t.Error(p)
			}
		})
	}
}

// TestShardChecksCatch breaks a copy of the overlays in one place per case
// and expects the checks to report it.
func TestShardChecksCatch(t *testing.T) {
	type edit struct{ file, old, new string }
	tests := []struct {
		name  string
		check func(*testing.T, string) []string
		edit  edit
		want  string // in some problem
	}{
		{"cronjob not indexed", checkShardedCronJob, edit{"sharded-cronjob/kustomization.yaml", "value: Indexed", "value: NonIndexed"}, "completionMode"},
		{"cronjob completions differ from parallelism", checkShardedCronJob, edit{"sharded-cronjob/kustomization.yaml", "path: /spec/jobTemplate/spec/completions\n        value: 3", "path: /spec/jobTemplate/spec/completions\n        value: 4"}, "completions"},
		{"cronjob shard count differs", checkShardedCronJob, edit{"sharded-cronjob/kustomization.yaml", `value: "3"`, `value: "2"`}, "IMAGEBUMP_SHARDS"},
		{"cronjob pins the index", checkShardedCronJob, edit{"cronjob/cronjob.yaml", "args: [run, --once,", "args: [run, --shard-index, \"0\", --once,"}, "--shard-index"},
		{"cronjob not once", checkShardedCronJob, edit{"cronjob/cronjob.yaml", "args: [run, --once,", "args: [run,"}, "--once"},
		{"statefulset shard count differs", checkStatefulSet, edit{"statefulset/statefulset.yaml", "  replicas: 3", "  replicas: 4"}, "IMAGEBUMP_SHARDS"},
		{"statefulset service not headless", checkStatefulSet, edit{"statefulset/service.yaml", "  clusterIP: None\n", ""}, "headless"},
		{"statefulset forwards nothing", checkStatefulSet, edit{"statefulset/statefulset.yaml", "            - name: IMAGEBUMP_FORWARD_SECRET_FILE\n              value: /var/run/secrets/imagebump/forward/secret\n", ""}, "never forwarded"},
		{"statefulset forwarding secret elsewhere", checkStatefulSet, edit{"statefulset/statefulset.yaml", "value: /var/run/secrets/imagebump/forward/secret", "value: /var/run/secrets/imagebump/git/token"}, "no key of Secret imagebump-forward"},
		{"statefulset forwarding secret required", checkStatefulSet, edit{"statefulset/statefulset.yaml", "optional: true            # no forwarding without it", "optional: false"}, "read-only and optional"},
		{"statefulset governed by another service", checkStatefulSet, edit{"statefulset/statefulset.yaml", "serviceName: imagebump-shards", "serviceName: imagebump"}, "serviceName"},
		{"statefulset pod-index label not passed", checkStatefulSet, edit{"statefulset/statefulset.yaml", "metadata.labels['apps.kubernetes.io/pod-index']", "metadata.labels['app.kubernetes.io/name']"}, "POD_INDEX"},
		{"statefulset pod name not passed", checkStatefulSet, edit{"statefulset/statefulset.yaml", "fieldPath: metadata.name", "fieldPath: metadata.namespace"}, "POD_NAME"},
		{"statefulset pod drifts", checkStatefulSet, edit{"statefulset/statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"}, "differs from the Deployment's"},
		{"statefulset pods one at a time", checkStatefulSet, edit{"statefulset/statefulset.yaml", "podManagementPolicy: Parallel", "podManagementPolicy: OrderedReady"}, "podManagementPolicy"},
		{"service selects nothing", checkStatefulSet, edit{"statefulset/service.yaml", "selector:\n    app.kubernetes.io/name: imagebump", "selector:\n    app: imagebump"}, "selector"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kubernetes")
			if err := os.CopyFS(dir, os.DirFS("kubernetes")); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, filepath.FromSlash(tc.edit.file))
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(src), tc.edit.old); n != 1 {
				t.Fatalf("%s holds %q %d times; the edit needs it once", tc.edit.file, tc.edit.old, n)
			}
			if err := os.WriteFile(file, []byte(strings.Replace(string(src), tc.edit.old, tc.edit.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			got := tc.check(t, dir)
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("no problem mentions %q; got %d:\n%s", tc.want, len(got), strings.Join(got, "\n"))
			}
		})
	}
}

// shardEnv is the environment of the imagebump container: literal values,
// and the downward API field of the others.
type shardEnv struct {
	values map[string]string
	fields map[string]string
}

func containerEnv(c container) shardEnv {
	e := shardEnv{values: map[string]string{}, fields: map[string]string{}}
	for _, v := range c.Env {
		if v.ValueFrom == nil {
			e.values[v.Name] = v.Value
			continue
		}
		var from struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		}
		b, _ := yaml.Marshal(v.ValueFrom)
		_ = yaml.Unmarshal(b, &from)
		e.fields[v.Name] = from.FieldRef.FieldPath
	}
	return e
}

// shardCount checks that the container says count shards in
// IMAGEBUMP_SHARDS and lets run take the index from the environment.
func (p *problems) shardCount(where string, c container, count int) {
	env := containerEnv(c)
	if got := env.values["IMAGEBUMP_SHARDS"]; got != strconv.Itoa(count) {
		p.addf("%s: IMAGEBUMP_SHARDS is %q, want %d, the number of pods", where, got, count)
	}
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--shard-index") || strings.HasPrefix(a, "--shards") {
			p.addf("%s: args %v set %s; every pod has the same args, the index must come from the environment", where, c.Args, a)
		}
	}
}

// checkShardedCronJob builds the Indexed CronJob overlay in dir and
// returns what is wrong with it.
func checkShardedCronJob(t *testing.T, dir string) []string {
	t.Helper()
	var p problems
	out := buildKinds(t, &p, filepath.Join(dir, shardedCronJobDir))
	base := buildKinds(t, &p, filepath.Join(dir, cronJobDir))
	if len(p) > 0 {
		return p
	}
	type indexedCronJob struct {
		Spec struct {
			JobTemplate struct {
				Spec struct {
					CompletionMode string      `yaml:"completionMode"`
					Completions    *int        `yaml:"completions"`
					Parallelism    *int        `yaml:"parallelism"`
					Template       podTemplate `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	if got := out.count(); !cmp.Equal(got, map[string]int{"CronJob": 1, "ConfigMap": 1, "ServiceAccount": 1}) {
		p.addf("%s: objects by kind %v, want one CronJob, ConfigMap and ServiceAccount", shardedCronJobDir, got)
		return p
	}
	cj := decodeAs[indexedCronJob](t, out.kinds["CronJob"][0])
	js := cj.Spec.JobTemplate.Spec
	if js.CompletionMode != "Indexed" {
		p.addf("%s: completionMode %q, want Indexed (it sets JOB_COMPLETION_INDEX)", shardedCronJobDir, js.CompletionMode)
	}
	if js.Completions == nil || js.Parallelism == nil || *js.Completions != *js.Parallelism || *js.Completions < 2 {
		p.addf("%s: completions %v and parallelism %v must be equal and at least 2: one pod per shard, all at once", shardedCronJobDir, deref(js.Completions), deref(js.Parallelism))
		return p
	}
	pod := js.Template
	if len(pod.Spec.Containers) != 1 {
		p.addf("%s: %d containers, want 1", shardedCronJobDir, len(pod.Spec.Containers))
		return p
	}
	c := pod.Spec.Containers[0]
	p.shardCount(shardedCronJobDir, c, *js.Completions)
	if !slices.Contains(c.Args, "--once") {
		p.addf("%s: args %v lack --once: a Job's pod must exit", shardedCronJobDir, c.Args)
	}
	// Kubernetes sets JOB_COMPLETION_INDEX to 0..completions-1: each is a
	// shard run accepts.
	for i := range *js.Completions {
		env := map[string]string{bot.EnvJobCompletionIndex: strconv.Itoa(i)}
		if got, _, err := bot.ShardIndexFromEnv(func(k string) string { return env[k] }); err != nil || got != i {
			p.addf("%s: completion index %d gives shard %d, %v", shardedCronJobDir, i, got, err)
		}
	}
	// The pod is the plain CronJob's plus the environment.
	want := decodeAs[cronJob](t, base.kinds["CronJob"][0]).Spec.JobTemplate.Spec.Template
	pod.Spec.Containers[0].Env = withoutShardEnv(pod.Spec.Containers[0].Env)
	if diff := cmp.Diff(want, pod); diff != "" {
		p.addf("%s: the pod differs from the CronJob's beyond its env (-cronjob +sharded):\n%s", shardedCronJobDir, diff)
	}
	return p
}

// checkStatefulSet builds the StatefulSet overlay in dir and returns what
// is wrong with it.
func checkStatefulSet(t *testing.T, dir string) []string {
	t.Helper()
	var p problems
	out := buildKinds(t, &p, filepath.Join(dir, statefulSetDir))
	base := buildKinds(t, &p, filepath.Join(dir, baseDir))
	if len(p) > 0 {
		return p
	}
	type statefulSet struct {
		Metadata meta `yaml:"metadata"`
		Spec     struct {
			Replicas            *int   `yaml:"replicas"`
			ServiceName         string `yaml:"serviceName"`
			PodManagementPolicy string `yaml:"podManagementPolicy"`
			Selector            struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Template podTemplate `yaml:"template"`
		} `yaml:"spec"`
	}
	type headless struct {
		Metadata meta `yaml:"metadata"`
		Spec     struct {
			ClusterIP string            `yaml:"clusterIP"`
			Selector  map[string]string `yaml:"selector"`
			Ports     []servicePort     `yaml:"ports"`
		} `yaml:"spec"`
	}
	if got := out.count(); !cmp.Equal(got, map[string]int{"StatefulSet": 1, "Service": 1, "ConfigMap": 1, "ServiceAccount": 1}) {
		p.addf("%s: objects by kind %v, want one StatefulSet, Service, ConfigMap and ServiceAccount", statefulSetDir, got)
		return p
	}
	ss := decodeAs[statefulSet](t, out.kinds["StatefulSet"][0])
	svc := decodeAs[headless](t, out.kinds["Service"][0])
	if svc.Spec.ClusterIP != "None" {
		p.addf("%s: Service %s has clusterIP %q; it must be headless (None) to name each shard's pod", statefulSetDir, svc.Metadata.Name, svc.Spec.ClusterIP)
	}
	if ss.Spec.ServiceName != svc.Metadata.Name {
		p.addf("%s: serviceName %q, want the headless Service %q", statefulSetDir, ss.Spec.ServiceName, svc.Metadata.Name)
	}
	if ss.Spec.PodManagementPolicy != "Parallel" {
		p.addf("%s: podManagementPolicy %q, want Parallel: shards do not wait for each other", statefulSetDir, ss.Spec.PodManagementPolicy)
	}
	labels := ss.Spec.Template.Metadata.Labels
	if len(svc.Spec.Selector) == 0 || !isSubset(svc.Spec.Selector, labels) {
		p.addf("%s: the Service's selector %v does not select the pods %v", statefulSetDir, svc.Spec.Selector, labels)
	}
	if !isSubset(ss.Spec.Selector.MatchLabels, labels) {
		p.addf("%s: the selector %v does not select the pods %v", statefulSetDir, ss.Spec.Selector.MatchLabels, labels)
	}
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas < 2 {
		p.addf("%s: replicas %v, want at least 2 shards", statefulSetDir, deref(ss.Spec.Replicas))
		return p
	}
	pod := ss.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		p.addf("%s: %d containers, want 1", statefulSetDir, len(pod.Spec.Containers))
		return p
	}
	c := pod.Spec.Containers[0]
	replicas := *ss.Spec.Replicas
	p.shardCount(statefulSetDir, c, replicas)
	env := containerEnv(c)
	for name, want := range map[string]string{
		bot.EnvPodIndex: "metadata.labels['apps.kubernetes.io/pod-index']",
		bot.EnvPodName:  "metadata.name",
	} {
		if got := env.fields[name]; got != want {
			p.addf("%s: %s comes from %q, want the downward API's %s", statefulSetDir, name, got, want)
		}
	}
	// Pod i of the StatefulSet is named NAME-i and labelled with i, where
	// the cluster sets the label: each gives shard i.
	for i := range replicas {
		name := fmt.Sprintf("%s-%d", ss.Metadata.Name, i)
		for _, e := range []map[string]string{
			{bot.EnvPodName: name},
			{bot.EnvPodName: name, bot.EnvPodIndex: strconv.Itoa(i)},
		} {
			if got, _, err := bot.ShardIndexFromEnv(func(k string) string { return e[k] }); err != nil || got != i {
				p.addf("%s: pod %s with %v gives shard %d, %v; want %d", statefulSetDir, name, e, got, err, i)
			}
		}
	}
	// The pod is the Deployment's plus the environment.
	if len(base.kinds["Deployment"]) != 1 {
		p.addf("the base holds %d Deployments, want 1", len(base.kinds["Deployment"]))
		return p
	}
	// The forwarding secret: IMAGEBUMP_FORWARD_SECRET_FILE names a file
	// of the optional Secret volume "forward", mounted read-only.
	ctr := &pod.Spec.Containers[0]
	file := ""
	for _, e := range ctr.Env {
		if e.Name == "IMAGEBUMP_FORWARD_SECRET_FILE" {
			file = e.Value
		}
	}
	mi := slices.IndexFunc(ctr.VolumeMounts, func(m volumeMount) bool { return m.Name == forwardVolume })
	vi := slices.IndexFunc(pod.Spec.Volumes, func(v volume) bool { return v.Name == forwardVolume })
	switch {
	case file == "":
		p.addf("%s: IMAGEBUMP_FORWARD_SECRET_FILE is not set: webhook events are never forwarded to their shard", statefulSetDir)
	case mi < 0 || vi < 0 || pod.Spec.Volumes[vi].Secret == nil:
		p.addf("%s: no Secret volume %q mounted for the forwarding secret", statefulSetDir, forwardVolume)
	default:
		m, v := ctr.VolumeMounts[mi], pod.Spec.Volumes[vi].Secret
		if !m.ReadOnly || v.Optional == nil || !*v.Optional {
			p.addf("%s: the forwarding Secret must be mounted read-only and optional", statefulSetDir)
		}
		if !slices.ContainsFunc(v.Items, func(k keyToPath) bool { return path.Join(m.MountPath, k.Path) == file }) {
			p.addf("%s: IMAGEBUMP_FORWARD_SECRET_FILE %s is no key of Secret %s", statefulSetDir, file, v.SecretName)
		}
	}
	if mi >= 0 {
		ctr.VolumeMounts = slices.Delete(ctr.VolumeMounts, mi, mi+1)
	}
	if vi >= 0 {
		pod.Spec.Volumes = slices.Delete(pod.Spec.Volumes, vi, vi+1)
	}
	want := decodeAs[deployment](t, base.kinds["Deployment"][0]).Spec.Template
	ctr.Env = withoutShardEnv(ctr.Env)
	if diff := cmp.Diff(want, pod); diff != "" {
		p.addf("%s: the pod differs from the Deployment's beyond its env and forwarding secret (-deployment +statefulset):\n%s", statefulSetDir, diff)
	}
	return p
}

// forwardVolume is the StatefulSet's volume of the forwarding secret.
const forwardVolume = "forward"

// withoutShardEnv is env less the variables that say a pod's shard, so
// that a sharded pod compares equal to the plain one it extends.
func withoutShardEnv(env []envVar) []envVar {
	var out []envVar
	for _, e := range env {
		switch e.Name {
		case "IMAGEBUMP_SHARDS", "IMAGEBUMP_FORWARD_SECRET_FILE", bot.EnvJobCompletionIndex, bot.EnvPodIndex, bot.EnvPodName:
		default:
			out = append(out, e)
		}
	}
	return out
}

func deref(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

func isSubset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// kinds is the output of one kustomize build, its objects by kind.
type kinds struct {
	kinds map[string][]*yaml.Node
}

func (k kinds) count() map[string]int {
	out := map[string]int{}
	for kind, objs := range k.kinds {
		out[kind] = len(objs)
	}
	return out
}

// buildKinds runs kustomize on dir as `kustomize build` does, from disk.
func buildKinds(t *testing.T, p *problems, dir string) kinds {
	t.Helper()
	out := kinds{kinds: map[string][]*yaml.Node{}}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		p.addf("kustomize build %s: %v", dir, err)
		return out
	}
	text, err := rm.AsYaml()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decoding the output of kustomize build %s: %v", dir, err)
		}
		var head struct {
			Kind string `yaml:"kind"`
		}
		decode(t, doc, &head)
		out.kinds[head.Kind] = append(out.kinds[head.Kind], doc)
	}
	return out
}
