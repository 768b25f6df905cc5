package registry

import "fmt"

// ContentType is the media type of every response: the Confluent Schema
// Registry API, version 1, in JSON.
const ContentType = "application/vnd.schemaregistry.v1+json"

// accept is what the client asks for, as Confluent's own clients do.
const accept = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"

// Confluent's error codes, in the "error_code" field of an error response.
// The first three digits are the HTTP status.
const (
	CodeSubjectNotFound       = 40401
	CodeVersionNotFound       = 40402
	CodeSchemaNotFound        = 40403
	CodeSubjectConfigNotSet   = 40408 // the subject has no compatibility level of its own
	CodeSubjectModeNotSet     = 40409 // the subject has no mode of its own
	CodeInvalidSchema         = 42201
	CodeInvalidVersion        = 42202
	CodeOperationNotPermitted = 42205 // here: every write, because the registry is read-only
)

// Codes of errors that are not the registry's own, as Confluent's server
// (a JAX-RS application) sends them.
const (
	codeNotFound         = 404 // a path the API does not have
	codeMethodNotAllowed = 405
	codeBadRequest       = 400
	codeInternal         = 50001
)

// ModeReadOnly is the registry's mode (Confluent's READONLY): schemas are
// served, never registered, deleted or reconfigured through the API.
const ModeReadOnly = "READONLY"

// SchemaTypeAvro is the only schema type served.
const SchemaTypeAvro = "AVRO"

// errorBody is Confluent's error response.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// subjectVersion is GET /subjects/{s}/versions/{v} and POST /subjects/{s}.
// Confluent omits schemaType for Avro.
type subjectVersion struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
}

// schemaByID is GET /schemas/ids/{id}.
type schemaByID struct {
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
}

// subjectAndVersion is one element of GET /schemas/ids/{id}/versions.
type subjectAndVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// schemaRequest is the body of POST /subjects/{s} and
// POST /subjects/{s}/versions. References are not read: logstream's schemas
// use none, and a schema that needs one does not parse on its own.
type schemaRequest struct {
	Schema     string `json:"schema"`
	SchemaType string `json:"schemaType"`
}

// Error is an error response from a schema registry, as the Client
// returns it (wrapped).
type Error struct {
	Op      string // the request, e.g. "GET /schemas/ids/7"
	Status  int    // HTTP status
	Code    int    // Confluent error_code, e.g. CodeSchemaNotFound; 0 when the body had none
	Message string // the registry's message, or the start of a body that was not an error document
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, e.Message)
	}
	return fmt.Sprintf("%s: HTTP %d, error code %d: %s", e.Op, e.Status, e.Code, e.Message)
}
