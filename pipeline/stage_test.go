package pipeline

import (
	"context"
	"errors"
	"testing"
)

// TestStageErr: a stage that stops while the pipeline runs has failed,
// also when goka returns nothing or an error that holds a
// context.Canceled of its own shutdown next to a callback's panic; a stop
// the pipeline asked for is no failure.
func TestStageErr(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	panicked := errors.New("error processing message (partition=2): panic in callback")
	for _, c := range []struct {
		name   string
		ctx    context.Context
		err    error
		failed bool
	}{
		{"stopped by itself, no error", live, nil, true},
		{"panic next to goka's own cancel", live, errors.Join(panicked, context.Canceled), true},
		{"failed", live, panicked, true},
		{"asked to stop", done, context.Canceled, false},
		{"asked to stop, no error", done, nil, false},
		{"failed while stopping", done, panicked, true},
	} {
		if got := stageErr(c.ctx, c.err); (got != nil) != c.failed {
			t.Errorf("%s: stageErr = %v, want failed %v", c.name, got, c.failed)
		}
	}
}
