package registry

import (
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// ValueSubject is the subject of a topic's values under Confluent's
// TopicNameStrategy: "<topic>-value".
func ValueSubject(topic string) string { return topic + "-value" }

// Subjects maps the value subject of every topic whose values are a record
// of the catalog to that record. Topics of other values are left out, and
// there are no key subjects: logstream's keys are plain strings, not Avro.
func Subjects(topics []topology.Topic, cat *schemas.Catalog) map[string]schemas.Record {
	out := map[string]schemas.Record{}
	for _, tp := range topics {
		if r, ok := cat.Record(tp.Record); ok && tp.Record != "" {
			out[ValueSubject(tp.Name)] = r
		}
	}
	return out
}
