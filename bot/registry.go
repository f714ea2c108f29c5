package bot

import (
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/registry"
)

// RegistryOptions turns the registries section of the bot config into
// registry client options. Hosts named in insecure are marked insecure,
// added when the config does not list them.
func RegistryOptions(cfg config.Registries, insecure ...string) []registry.Option {
	var opts []registry.Option
	if cfg.DockerConfig != "" {
		opts = append(opts, registry.WithDockerConfig(cfg.DockerConfig))
	}
	var hosts []registry.Host
	listed := map[string]int{}
	for _, h := range cfg.Hosts {
		listed[hostKey(h.Host)] = len(hosts)
		hosts = append(hosts, registry.Host{
			Host:              h.Host,
			Insecure:          h.Insecure,
			CAFile:            h.CAFile,
			MaxConcurrency:    h.MaxConcurrency,
			RequestsPerSecond: h.RequestsPerSecond,
			Provider:          h.Provider,
		})
	}
	for _, h := range insecure {
		if i, ok := listed[hostKey(h)]; ok {
			hosts[i].Insecure = true
			continue
		}
		listed[hostKey(h)] = len(hosts)
		hosts = append(hosts, registry.Host{Host: h, Insecure: true})
	}
	if len(hosts) > 0 {
		opts = append(opts, registry.WithHosts(hosts...))
	}
	return opts
}

// hostKey folds the one alias go-containerregistry applies to registry
// names, so that "docker.io" and "index.docker.io" are one host.
func hostKey(host string) string {
	if host == "docker.io" {
		return "index.docker.io"
	}
	return host
}
