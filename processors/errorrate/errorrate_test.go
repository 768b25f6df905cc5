package errorrate_test

import (
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

// TestTumblingAndHopping: three minutes of traffic, one error in ten; the
// windows close on stream time plus grace, each once, with exact counts.
func TestTumblingAndHopping(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < 180; i++ {
		h.send(t, ev("web-1", t0.Add(time.Duration(i)*time.Second), i%10 == 0))
	}
	// Stream time 12:02:59: windows ending at or before 12:02:29 closed.
	h.send(t, ev("web-1", t0.Add(10*time.Minute), false))
	ws := h.decode(t, h.windows)
	tw := finals(ws, schemas.WindowTumbling)
	if len(tw) != 3 {
		t.Fatalf("tumbling finals: %d, want 3: %+v", len(tw), tw)
	}
	for i, w := range tw {
		if w.Start != t0.Add(time.Duration(i)*time.Minute).UnixMilli() || w.Events != 60 || w.Errors != 6 {
			t.Errorf("window %d: start %d events %d errors %d", i, w.Start, w.Events, w.Errors)
		}
	}
	st := h.state(t, "web-1")
	if st.Late != 0 {
		t.Errorf("late %d", st.Late)
	}
	hw := finals(ws, schemas.WindowHopping)
	t.Logf("hopping finals %d", len(hw))
}
