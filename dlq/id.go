package dlq

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/logstream/logstream/topology"
)

// ID names a dead letter by its position on logs.dlq.
type ID struct {
	Partition int32
	Offset    int64
}

// String is "PARTITION/OFFSET", as ParseID reads it.
func (id ID) String() string {
	return strconv.FormatInt(int64(id.Partition), 10) + "/" + strconv.FormatInt(id.Offset, 10)
}

// Less orders IDs by partition, then offset.
func (id ID) Less(o ID) bool {
	if id.Partition != o.Partition {
		return id.Partition < o.Partition
	}
	return id.Offset < o.Offset
}

// ErrBadID: a dead-letter id that is not PARTITION/OFFSET.
var ErrBadID = errors.New("not a dead-letter id")

// ParseID reads "PARTITION/OFFSET", as list prints it; the header form
// "logs.dlq/PARTITION/OFFSET" (ls-dlq-replay) is accepted too.
func ParseID(s string) (ID, error) {
	bad := func(why string) (ID, error) {
		return ID{}, fmt.Errorf("%w: %q %s (want PARTITION/OFFSET, as 'logstream dlq list' prints it, e.g. 2/1041)", ErrBadID, s, why)
	}
	rest := strings.TrimPrefix(strings.TrimSpace(s), topology.TopicDLQ+"/")
	ps, offs, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("has no /")
	}
	p, err := strconv.ParseInt(ps, 10, 32)
	if err != nil || p < 0 {
		return bad("has no partition number before the /")
	}
	o, err := strconv.ParseInt(offs, 10, 64)
	if err != nil || o < 0 {
		return bad("has no offset after the /")
	}
	return ID{Partition: int32(p), Offset: o}, nil
}

// position names a record of any topic: "topic/partition/offset", the
// value of both replay headers.
func position(topic string, partition int32, offset int64) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10) + "/" + strconv.FormatInt(offset, 10)
}
