// Command fleettick runs ticks of the daemon's passes over a bot config in
// one process, the way run does between schedules but back to back, so
// that BenchmarkFleet can measure a daemon's warm tick with and without
// its memory of the last pass (bot.Memo). It is a benchmark driver, not
// part of imagebump.
//
//	fleettick -config F [-ticks 2] [-shards N -shard-index I] [-cpuprofile FILE] [-memprofile FILE]
//
// The first tick has no memory (what run --once does, without process
// start-up); the later ones have it. It prints one line per tick:
//
//	tick=0 repos=1000 unchanged=0 failed=0 cpu_ns=123
//
// cpu_ns is the process's user+system time during the tick (getrusage).
// -cpuprofile writes a CPU profile of the ticks after the first;
// -memprofile a heap profile after the last tick, of what the process then
// keeps (the daemon's memory between ticks).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/imagebump/imagebump/bot"
	"github.com/imagebump/imagebump/config"
	"github.com/imagebump/imagebump/gitwriter/forges"
	"github.com/imagebump/imagebump/registry"
)

func main() {
	cfgPath := flag.String("config", "", "bot config")
	ticks := flag.Int("ticks", 2, "ticks to run")
	shards := flag.Int("shards", 1, "shard count")
	index := flag.Int("shard-index", 0, "shard index")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the ticks after the first to `FILE`")
	memProfile := flag.String("memprofile", "", "write a heap profile after the last tick to `FILE`")
	flag.Parse()
	if err := run(*cfgPath, *ticks, bot.Shard{Index: *index, Count: *shards}, *profile, *memProfile); err != nil {
		fmt.Fprintln(os.Stderr, "fleettick:", err)
		os.Exit(1)
	}
}

func cpu() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func run(path string, ticks int, shard bot.Shard, profile, memProfile string) error {
	b, err := config.LoadBot(path, forges.All())
	if err != nil {
		return err
	}
	if err := shard.Validate(); err != nil {
		return err
	}
	b.Repositories = shard.Filter(b.Repositories)
	client, err := registry.New(bot.RegistryOptions(b.Registries)...)
	if err != nil {
		return err
	}
	r := &bot.Runner{Config: b, Registry: client, Shard: shard, Memo: &bot.Memo{}}
	ctx := context.Background()
	for t := range ticks {
		if t == 1 && profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		before := cpu()
		results := r.Once(ctx)
		spent := cpu() - before
		unchanged, failed := 0, 0
		for _, res := range results {
			if res.Unchanged {
				unchanged++
			}
			if res.Failed() {
				failed++
				fmt.Fprintf(os.Stderr, "%s: pass failed: %v\n", res.Repository, res.Err)
			}
		}
		fmt.Printf("tick=%d repos=%d unchanged=%d failed=%d cpu_ns=%d\n", t, len(results), unchanged, failed, spent)
	}
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}
	runtime.KeepAlive(r)
	return nil
}
