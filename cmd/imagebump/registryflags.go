package main

import (
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/imagebump/imagebump/registry"
)

// registryFlags are the registry settings of plan, apply and tags.
type registryFlags struct {
	insecure     []string
	dockerConfig string
}

func (f *registryFlags) add(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.insecure, "insecure-registry", nil, "speak plain HTTP (or HTTPS without verification) to this `HOST`; repeatable (loopback hosts always use HTTP)")
	fs.StringVar(&f.dockerConfig, "docker-config", "", "docker config `FILE` with registry credentials (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)")
}

// client builds the registry client the flags describe.
func (f *registryFlags) client(log *slog.Logger) (*registry.Client, error) {
	opts := []registry.Option{registry.WithLogger(log)}
	if f.dockerConfig != "" {
		opts = append(opts, registry.WithDockerConfig(f.dockerConfig))
	}
	var hosts []registry.Host
	for _, h := range f.insecure {
		hosts = append(hosts, registry.Host{Host: h, Insecure: true})
	}
	if len(hosts) > 0 {
		opts = append(opts, registry.WithHosts(hosts...))
	}
	c, err := registry.New(opts...)
	if err != nil {
		return nil, usageError("registry settings: %v", err)
	}
	return c, nil
}
