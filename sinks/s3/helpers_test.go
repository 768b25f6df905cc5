package s3

import (
	"sync"

	"github.com/logstream/logstream/codecs"
)

var (
	codecsOnce sync.Once
	codecSet   *codecs.Set
)

// mustCodecs is one codec set for every test of the package.
func mustCodecs() *codecs.Set {
	codecsOnce.Do(func() {
		var err error
		if codecSet, err = codecs.NewSet(); err != nil {
			panic(err)
		}
	})
	return codecSet
}
