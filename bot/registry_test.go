package bot

import (
	"testing"

	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/registry"
)

func TestRegistryOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      config.Registries
		insecure []string
	}{
		{"empty", config.Registries{}, nil},
		{"flag only", config.Registries{}, []string{"r.internal:5000", "r2.internal"}},
		{"flag marks a listed host", config.Registries{Hosts: []config.RegistryHost{{Host: "r.internal:5000", MaxConcurrency: 2}}}, []string{"r.internal:5000"}},
		{"docker hub aliases", config.Registries{Hosts: []config.RegistryHost{{Host: "docker.io", RequestsPerSecond: 1}}}, []string{"index.docker.io"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// registry.New rejects a host configured twice; every case
			// must build.
			if _, err := registry.New(RegistryOptions(tc.cfg, tc.insecure...)...); err != nil {
				t.Errorf("registry.New: %v", err)
			}
		})
	}
}

// TestRegistryOptionsProvider checks that a host's provider reaches the
// registry client: auto on a host of no provider is refused there.
func TestRegistryOptionsProvider(t *testing.T) {
	cfg := config.Registries{Hosts: []config.RegistryHost{{Host: "ghcr.io", Provider: "auto"}}}
	if _, err := registry.New(RegistryOptions(cfg)...); err == nil {
		t.Error("registry.New accepted provider auto for ghcr.io: the provider did not reach the client")
	}
}
