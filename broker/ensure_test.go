package broker

import (
	"fmt"
	"sync"
	"testing"
)

// Pods that start together each ensure the same topics: all must succeed,
// whichever of them created a topic.
func TestEnsureTopicsConcurrently(t *testing.T) {
	streams := map[string]int{"a": 3, "b": 3, "a-loop": 3}
	tables := map[string]int{"a-table": 3, "b-table": 3}
	for round := range 5 {
		e, err := StartEmbedded(EmbeddedConfig{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for pod := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := EnsureTopics([]string{e.Addr()}, Tuning{Replication: 1}, streams, tables); err != nil {
					errs <- fmt.Errorf("round %d, pod %d: %w", round, pod, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		e.Close()
	}
}
