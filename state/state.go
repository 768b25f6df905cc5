// Package state builds the local stores behind goka group tables.
//
// A goka table lives twice: in its compacted Kafka topic (the durable copy)
// and in a local store per partition (the working copy, rebuilt from the
// topic when a pod starts or gains a partition). With a directory, the local
// store is LevelDB and survives restarts, so recovery reads only what is new;
// without one, it is memory and recovery reads the whole table topic.
package state

import (
	"fmt"
	"os"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Builder returns goka's storage builder for dir: LevelDB files under dir
// (one per table partition), or memory when dir is "".
func Builder(dir string) (storage.Builder, error) {
	if dir == "" {
		return Memory(), nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	// A bloom filter answers "not there" without reading a block: dedupe
	// looks up every new id, and nearly every id is new.
	return storage.BuilderWithOptions(dir, &opt.Options{
		Filter: filter.NewBloomFilter(10),
	}), nil
}
