package registry_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/logstream/logstream/registry"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// Serving the embedded schemas, and reading one back through a Client. A
// command would call registry.Serve(ctx, addr, h, ready) instead of
// httptest.
func Example() {
	cat, err := schemas.Embedded()
	if err != nil {
		panic(err)
	}
	top, err := topology.New(topology.DefaultConfig())
	if err != nil {
		panic(err)
	}
	subjects := registry.Subjects(top.Topics(), cat)
	h, err := registry.NewHandler(cat, subjects)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	client, err := registry.NewClient(srv.URL)
	if err != nil {
		panic(err)
	}
	latest := subjects[registry.ValueSubject(topology.TopicParsed)].Latest()
	byID, err := client.SchemaByID(context.Background(), latest.ID)
	if err != nil {
		panic(err)
	}
	byFP, err := client.SchemaByFingerprint(context.Background(), latest.Fingerprint)
	if err != nil {
		panic(err)
	}
	// The latest version's id and fingerprint name the same schema.
	fmt.Println(registry.ValueSubject(topology.TopicParsed), byID == byFP)
	// Output: logs.parsed-value true
}
