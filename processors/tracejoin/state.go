package tracejoin

import (
	"github.com/logstream/logstream/schemas"
)

// Helpers over a trace's state. A trace holds few spans and events, so
// linear scans are the cheapest lookups.

type traceState = schemas.TraceState

func spanOf(st *traceState, id string) *schemas.SpanRef {
	for i := range st.Spans {
		if st.Spans[i].SpanID == id {
			return &st.Spans[i]
		}
	}
	return nil
}

func rootOf(st *traceState) *schemas.SpanRef {
	for i := range st.Spans {
		if st.Spans[i].ParentSpanID == nil {
			return &st.Spans[i]
		}
	}
	return nil
}

func eventOf(st *traceState, id string) *schemas.HeldEvent {
	for i := range st.Events {
		if st.Events[i].EventID == id {
			return &st.Events[i]
		}
	}
	return nil
}

// pendingOf counts the events still waiting for their span.
func pendingOf(st *traceState) int {
	n := 0
	for _, e := range st.Events {
		if e.EmittedTopic == "" {
			n++
		}
	}
	return n
}
