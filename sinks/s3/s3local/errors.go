package s3local

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an S3 error response: the status and the Code the SDK turns
// into a typed error (types.NoSuchKey, smithy.APIError.ErrorCode()).
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errNoSuchBucket(bucket string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchBucket", "The specified bucket %q does not exist.", bucket)
}

func errNoSuchKey(key string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchKey", "The specified key %q does not exist.", key)
}

func errNotImplemented(what string) *apiError {
	return errorf(http.StatusNotImplemented, "NotImplemented", "s3local does not implement %s.", what)
}

func errInternal(err error) *apiError {
	return errorf(http.StatusInternalServerError, "InternalError", "s3local: %v", err)
}

// errorBody is the XML document of an S3 error response.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// writeError answers with e as S3 does: an XML body, except for HEAD,
// whose responses have no body (the SDK maps a bodiless HEAD 404 to
// NotFound).
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	h := w.Header()
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	body, err := xml.Marshal(errorBody{
		Code:      e.code,
		Message:   e.message,
		Resource:  r.URL.Path,
		RequestID: h.Get("x-amz-request-id"),
	})
	if err != nil { // cannot happen: the document has only strings
		body = nil
	}
	body = append([]byte(xml.Header), body...)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// writeXML answers 200 with v as an XML document.
func writeXML(w http.ResponseWriter, r *http.Request, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
