package topology

import "sync"

// valueRecords maps each pipeline topic whose values are one Avro record
// to that record's name. Record names do not depend on the configuration,
// so the default topology answers for every deployment.
var valueRecords = sync.OnceValue(func() map[string]string {
	t, err := New(DefaultConfig())
	if err != nil {
		// Cannot happen: the tests build the default topology. Without it
		// no topic names a record.
		return nil
	}
	m := map[string]string{}
	for _, tp := range t.Topics() {
		if tp.Record != "" {
			m[tp.Name] = tp.Record
		}
	}
	return m
})

// ValueRecord returns the name of the Avro record (schemas.Name*) that the
// values of topic carry, and false for a topic that is not the pipeline's
// or carries no single Avro record (loop topics, OTLP). logs.raw answers
// RawLog although it also takes plain lines (Topic.Plain).
func ValueRecord(topic string) (string, bool) {
	r, ok := valueRecords()[topic]
	return r, ok
}
