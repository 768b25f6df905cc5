package errorrate

import (
	"fmt"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// TableCodec is the goka codec of errorrate-table: it writes
// ErrorRatePartition values and reads them, and the ErrorRateState values
// the previous version wrote under hosts' names (see legacy.go), so that
// the stage and the query views can read every key of the table.
type TableCodec struct {
	State  *codecs.Codec[schemas.ErrorRatePartition]
	Legacy *codecs.Codec[schemas.ErrorRateState]
}

// Encode implements goka.Codec.
func (c TableCodec) Encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case *schemas.ErrorRatePartition:
		return c.State.Marshal(x)
	case *schemas.ErrorRateState:
		return c.Legacy.Marshal(x)
	}
	return nil, fmt.Errorf("errorrate: table value of type %T", v)
}

// Decode implements goka.Codec: a *schemas.ErrorRatePartition, or a
// *schemas.ErrorRateState of the previous version.
func (c TableCodec) Decode(b []byte) (any, error) {
	st, err := c.State.Unmarshal(b)
	if err == nil {
		return st, nil
	}
	if old, lerr := c.Legacy.Unmarshal(b); lerr == nil {
		return old, nil
	}
	return nil, err
}
