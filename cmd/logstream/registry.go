package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/registry"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// runRegistry serves the schemas directory as a read-only Confluent Schema
// Registry until ctx ends.
func runRegistry(ctx context.Context, cfg *Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	fsys, where, err := schemasFS(cfg)
	if err != nil {
		return err
	}
	cat, err := schemas.Load(fsys)
	if err != nil {
		return err
	}
	topo, err := topology.New(topology.Config{Partitions: cfg.Partitions, Replication: 1})
	if err != nil {
		return err
	}
	subjects := registry.Subjects(topo.Topics(), cat)
	h, err := registry.NewHandler(cat, subjects)
	if err != nil {
		return err
	}
	return registry.Serve(ctx, cfg.RegistryAddr, h, func(a net.Addr) {
		fmt.Fprintf(stderr, "logstream registry: serving %d subjects, %d schemas from %s at http://%s\n", len(subjects), len(cat.Schemas()), where, a)
		log.Info().Str("addr", a.String()).Str("schemas", where).Msg("registry listening")
	})
}

// codecOptions returns the codec options of --registry.
func codecOptions(cfg *Config) ([]codecs.Option, error) {
	if cfg.RegistryURL == "" {
		return nil, nil
	}
	cl, err := registry.NewClient(cfg.RegistryURL)
	if err != nil {
		return nil, usagef("--registry: %v", err)
	}
	return []codecs.Option{codecs.WithSource(cl)}, nil
}
