package config

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/problem"
)

const botHead = "schedule: '@hourly'\nrepositories:\n  - url: https://github.com/acme/fleet.git\n"

func TestLoadBotWebhooksAndPushgateway(t *testing.T) {
	got, err := LoadBot(writeConfig(t, botHead+`webhooks:
  debounce: 500ms
  maxBodyBytes: 65536
  sources:
    distribution: {secretFile: /s/registry}
    dockerhub: {secretFile: /s/hub}
    github: {secretFile: /s/github}
pushgateway:
  url: http://127.0.0.1:9091
  job: fleet-bot
`), forges.All())
	if err != nil {
		t.Fatal(err)
	}
	want := Webhooks{
		SecretFiles:  map[string]string{"distribution": "/s/registry", "dockerhub": "/s/hub", "github": "/s/github"},
		Debounce:     500 * time.Millisecond,
		MaxBodyBytes: 65536,
	}
	if diff := cmp.Diff(want, got.Webhooks); diff != "" {
		t.Errorf("Webhooks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Pushgateway{URL: "http://127.0.0.1:9091", Job: "fleet-bot"}, got.Pushgateway); diff != "" {
		t.Errorf("Pushgateway (-want +got):\n%s", diff)
	}
}

func TestLoadBotWebhookProblems(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"unknown source", "webhooks:\n  sources:\n    bitbucket: {secretFile: /s}\n",
			[]string{`F:6: webhooks.sources.bitbucket: "bitbucket" is not a webhook source: distribution, dockerhub, harbor, quay, github, gitlab or gitea`}},
		{"no secret", "webhooks:\n  sources:\n    gitlab: {}\n",
			[]string{`F:6: webhooks.sources.gitlab.secretFile: is required: every source is authenticated`}},
		{"unknown source field", "webhooks:\n  sources:\n    gitlab: {secret: x}\n", []string{`F:6: unknown field "secret"`, `F:6: webhooks.sources.gitlab.secretFile: is required: every source is authenticated`}},
		{"bad debounce", "webhooks:\n  debounce: soon\n", []string{`F:5: webhooks.debounce: "soon" is not a duration such as 72h or 3d`}},
		{"long debounce", "webhooks:\n  debounce: 1h\n", []string{`F:5: webhooks.debounce: 1h is longer than 10m; an event should start its pass within seconds`}},
		{"negative body", "webhooks:\n  maxBodyBytes: -1\n", []string{`F:5: webhooks.maxBodyBytes: -1 is negative`}},
		{"pushgateway not http", "pushgateway:\n  url: ftp://pg:9091\n", []string{`F:5: pushgateway.url: "ftp://pg:9091" is not an http or https URL`}},
		{"pushgateway with credentials", "pushgateway:\n  url: https://u:hunter2@pg:9091\n", []string{`F:5: pushgateway.url: https://REDACTED@pg:9091 carries credentials; they would show in logs`}},
		{"job without url", "pushgateway:\n  job: x\n", []string{`F:5: pushgateway.job: has no effect without pushgateway.url`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadBot(writeConfig(t, botHead+tc.content), forges.All())
			var problems problem.List
			if !errors.As(err, &problems) {
				t.Fatalf("LoadBot error %v, want problem.List", err)
			}
			var got []string
			for _, p := range problems {
				p.File = "F"
				got = append(got, p.String())
			}
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
