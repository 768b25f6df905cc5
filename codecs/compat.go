package codecs

import (
	"fmt"

	"github.com/logstream/logstream/schemas"
)

// CompatFailure is one broken compatibility rule between two versions of a
// record.
type CompatFailure struct {
	Record schemas.Record
	// Reader could not read what Writer wrote.
	Reader, Writer schemas.Schema
	Issue          Incompatibility
}

func (f CompatFailure) String() string {
	dir := "BACKWARD: the newer cannot read the older's records"
	if f.Reader.Version < f.Writer.Version {
		dir = "FORWARD: the older cannot read the newer's records"
	}
	return fmt.Sprintf("%s: %s cannot read %s (%s; %s requires it): %s",
		f.Record.Name, f.Reader.File, f.Writer.File, dir, f.Record.Mode, f.Issue)
}

// CheckCatalog checks every record's versions against each other as the
// record's compatibility mode requires: FULL_TRANSITIVE (the default) means
// each version reads every earlier version's records, and every earlier
// version reads its records. It also checks what goavro lets through in a
// schema: every default must be of its field's type (a union's, of its
// first branch). Problems name the file.
func CheckCatalog(cat *schemas.Catalog) ([]CompatFailure, []schemas.Problem) {
	var (
		fails []CompatFailure
		probs []schemas.Problem
	)
	for _, rec := range cat.Records {
		nodes := make([]*node, len(rec.Versions))
		ok := true
		for i, s := range rec.Versions {
			n, err := parseSchema(s.JSON)
			if err != nil {
				probs = append(probs, schemas.Problem{File: s.File, Msg: err.Error()})
				ok = false
				continue
			}
			nodes[i] = n
		}
		if !ok || rec.Mode == schemas.ModeNone {
			continue
		}
		for i := 1; i < len(rec.Versions); i++ {
			from := i - 1
			if rec.Mode.Transitive() {
				from = 0
			}
			for j := from; j < i; j++ {
				newer, older := rec.Versions[i], rec.Versions[j]
				if rec.Mode.Backward() {
					_, issues := compilePlan(nodes[j], nodes[i])
					for _, is := range issues {
						fails = append(fails, CompatFailure{Record: rec, Reader: newer, Writer: older, Issue: is})
					}
				}
				if rec.Mode.Forward() {
					_, issues := compilePlan(nodes[i], nodes[j])
					for _, is := range issues {
						fails = append(fails, CompatFailure{Record: rec, Reader: older, Writer: newer, Issue: is})
					}
				}
			}
		}
	}
	return fails, probs
}
