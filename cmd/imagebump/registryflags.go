package main

import (
	"errors"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/problem"
	"github.com/imagebump/imagebump/registry"
)

// registryFlags are the registry settings of plan, apply and tags.
type registryFlags struct {
	config       string
	insecure     []string
	dockerConfig string
}

func (f *registryFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "read registry settings (registries:) from this bot config `FILE`")
	fs.StringArrayVar(&f.insecure, "insecure-registry", nil, "speak plain HTTP (or HTTPS without verification) to this `HOST`; repeatable (loopback hosts always use HTTP)")
	fs.StringVar(&f.dockerConfig, "docker-config", "", "docker config `FILE` with registry credentials (default: the bot config's, else $DOCKER_CONFIG/config.json, else ~/.docker/config.json)")
}

// client builds the registry client the flags describe. An invalid bot
// config is a usage error that lists every problem with its line.
func (f *registryFlags) client(log *slog.Logger) (*registry.Client, error) {
	var regs config.Registries
	if f.config != "" {
		// Only registries: is used here; run needs the whole config.
		r, err := config.LoadRegistries(f.config, forges.All())
		var problems problem.List
		if errors.As(err, &problems) {
			return nil, usageError("invalid bot config %s:\n%v", f.config, err)
		}
		if err != nil {
			return nil, usageError("%v", err)
		}
		regs = *r
	}
	if f.dockerConfig != "" {
		regs.DockerConfig = f.dockerConfig
	}
	opts := append([]registry.Option{registry.WithLogger(log)}, bot.RegistryOptions(regs, f.insecure...)...)
	c, err := registry.New(opts...)
	if err != nil {
		return nil, usageError("registry settings: %v", err)
	}
	return c, nil
}
