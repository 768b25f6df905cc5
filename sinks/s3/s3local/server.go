// Package s3local is an S3-compatible HTTP server that keeps objects as
// files under a local directory: the embedded store of `logstream demo`
// and the in-process store of unit tests.
//
// It speaks enough of the S3 REST API, with path-style addressing
// (/{bucket}/{key...}), for aws-sdk-go-v2's S3 client (UsePathStyle) to
// create and probe buckets, put objects (also conditionally, with
// If-None-Match: * or If-Match), get, head, delete and list them
// (ListObjectsV2). Anything else is answered 501 NotImplemented, so a
// client never mistakes an unsupported call for a successful one.
//
// On disk, DIR/{bucket}/{key} holds an object's data, so the bucket
// directory is exactly the user's files, and DIR/.meta/{bucket}/{key}.json
// its ETag, Content-Type and user metadata. DIR/.tmp holds writes in
// progress. Bucket names never start with a dot, so neither directory can
// be a bucket.
//
// One Server must own a directory: the conditional-write guarantee rests
// on the Server's lock, not on the file system.
package s3local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	metaDir = ".meta"
	tmpDir  = ".tmp"
)

// Server is an S3-compatible http.Handler backed by a directory. Start
// serves it on a listener; ServeHTTP lets a test mount it itself
// (httptest.NewServer).
type Server struct {
	dir       string
	accessKey string

	// mu orders the check-and-rename of writes (so that of two
	// conditional PUTs of one key exactly one wins) against reads, which
	// take the data file and its metadata sidecar together under it.
	mu sync.RWMutex

	requestID atomic.Uint64
	inflight  sync.WaitGroup

	lifecycle sync.Mutex // guards srv and served
	srv       *http.Server
	served    chan struct{} // closed when srv.Serve returns
}

// Option configures a Server.
type Option func(*config)

type config struct {
	accessKey string
	buckets   []string
}

// WithCredentials makes the server reject requests signed with another
// access key (403 InvalidAccessKeyId) or not signed at all (403
// AccessDenied). Signatures are not verified: the point is to catch a
// client configured with the wrong credentials, not to secure a test
// store; the integration tests against a real S3-compatible server cover
// SigV4.
func WithCredentials(accessKey string) Option {
	return func(c *config) { c.accessKey = accessKey }
}

// WithBucket creates the bucket when the server is created, if it does not
// exist yet. It may be given more than once.
func WithBucket(name string) Option {
	return func(c *config) { c.buckets = append(c.buckets, name) }
}

// New returns a server that keeps its buckets under dir, creating dir if
// needed. Writes left half done in dir by a previous server are removed.
func New(dir string, opts ...Option) (*Server, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	for _, b := range c.buckets {
		if err := checkBucketName(b); err != nil {
			return nil, fmt.Errorf("s3local: %w", err)
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("s3local: directory %q: %w", dir, err)
	}
	// Temporary files are never reused: a file left there was being
	// written when a previous server stopped, and no one waits for it.
	if err := os.RemoveAll(filepath.Join(abs, tmpDir)); err != nil {
		return nil, fmt.Errorf("s3local: %w", err)
	}
	for _, d := range []string{abs, filepath.Join(abs, metaDir), filepath.Join(abs, tmpDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("s3local: %w", err)
		}
	}
	s := &Server{dir: abs, accessKey: c.accessKey}
	for _, b := range c.buckets {
		if err := os.MkdirAll(s.bucketPath(b), 0o755); err != nil {
			return nil, fmt.Errorf("s3local: create bucket %q: %w", b, err)
		}
	}
	return s, nil
}

// Dir is the directory the server keeps its buckets in.
func (s *Server) Dir() string { return s.dir }

// Start serves on addr ("127.0.0.1:0" picks a free port) in the background
// and returns the endpoint URL to give the S3 client.
func (s *Server) Start(addr string) (string, error) {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.srv != nil {
		return "", errors.New("s3local: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("s3local: listen %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func(srv *http.Server, served chan struct{}) {
		defer close(served)
		_ = srv.Serve(ln) // returns ErrServerClosed after Close
	}(s.srv, s.served)
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server started by Start, giving requests in progress up
// to five seconds, and returns when no request is being handled any more
// (so a test may remove the directory afterwards). Close without Start
// does nothing.
func (s *Server) Close() error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.served
	s.inflight.Wait()
	s.srv = nil
	if err != nil {
		return fmt.Errorf("s3local: close: %w", err)
	}
	return nil
}

// ServeHTTP answers one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Done()
	w.Header().Set("x-amz-request-id", strconv.FormatUint(s.requestID.Add(1), 16))

	if e := s.authorize(r); e != nil {
		writeError(w, r, e)
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket == "" {
		if r.Method == http.MethodGet {
			s.listBuckets(w, r)
			return
		}
		writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The specified method is not allowed against the service endpoint."))
		return
	}
	if err := checkBucketName(bucket); err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "InvalidBucketName", "%v", err))
		return
	}
	if key == "" {
		s.serveBucket(w, r, bucket)
		return
	}
	if err := checkKey(key); err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, "InvalidArgument", "%v", err))
		return
	}
	s.serveObject(w, r, bucket, key)
}

func (s *Server) serveBucket(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		if q.Get("list-type") == "2" {
			s.listObjects(w, r, bucket)
			return
		}
		if sub := subresource(q); sub != "" {
			writeError(w, r, errNotImplemented("the bucket subresource ?"+sub))
			return
		}
		writeError(w, r, errNotImplemented("ListObjects (v1); use ListObjectsV2 (list-type=2)"))
	case http.MethodHead:
		s.headBucket(w, r, bucket)
	case http.MethodPut:
		if sub := subresource(q); sub != "" {
			writeError(w, r, errNotImplemented("the bucket subresource ?"+sub))
			return
		}
		s.createBucket(w, r, bucket)
	case http.MethodDelete:
		if sub := subresource(q); sub != "" {
			writeError(w, r, errNotImplemented("the bucket subresource ?"+sub))
			return
		}
		s.deleteBucket(w, r, bucket)
	case http.MethodPost:
		writeError(w, r, errNotImplemented("POST on a bucket (DeleteObjects, POST uploads)"))
	default:
		writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The specified method %s is not allowed against a bucket.", r.Method))
	}
}

func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	if sub := subresource(q); sub != "" {
		// Multipart parts, tagging, ACLs, versions...: answering them as
		// plain object requests would store or return the wrong thing.
		writeError(w, r, errNotImplemented("the object subresource ?"+sub))
		return
	}
	switch r.Method {
	case http.MethodPut:
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			writeError(w, r, errNotImplemented("CopyObject"))
			return
		}
		s.putObject(w, r, bucket, key)
	case http.MethodGet, http.MethodHead:
		s.getObject(w, r, bucket, key)
	case http.MethodDelete:
		s.deleteObject(w, r, bucket, key)
	case http.MethodPost:
		writeError(w, r, errNotImplemented("POST on an object (multipart uploads, restore, select)"))
	default:
		writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The specified method %s is not allowed against an object.", r.Method))
	}
}

// subresource returns the first query parameter that selects an operation
// this server does not implement, or "". The SDK adds x-id to name the
// operation, presigned URLs carry X-Amz-*, GetObject may carry
// response-* header overrides, and ListObjectsV2 has its parameters.
func subresource(q map[string][]string) string {
	for name := range q {
		switch {
		case name == "x-id", strings.HasPrefix(name, "X-Amz-"), strings.HasPrefix(name, "x-amz-"):
		case strings.HasPrefix(name, "response-"):
		case name == "list-type", name == "prefix", name == "delimiter", name == "continuation-token",
			name == "start-after", name == "max-keys", name == "fetch-owner", name == "encoding-type":
		default:
			return name
		}
	}
	return ""
}

// authorize checks the access key of a request when the server has
// credentials. Only the key is compared; see WithCredentials.
func (s *Server) authorize(r *http.Request) *apiError {
	if s.accessKey == "" {
		return nil
	}
	key, ok := accessKeyOf(r)
	if !ok {
		return errorf(http.StatusForbidden, "AccessDenied", "Access Denied: the request is not signed.")
	}
	if key != s.accessKey {
		return errorf(http.StatusForbidden, "InvalidAccessKeyId",
			"The AWS Access Key Id you provided does not exist in our records.")
	}
	return nil
}

// accessKeyOf returns the access key a request is signed with: from a
// SigV4 Authorization header (Credential=AKID/date/region/s3/aws4_request),
// a presigned URL (X-Amz-Credential) or a SigV2 header (AWS AKID:sig).
func accessKeyOf(r *http.Request) (string, bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		if _, cred, ok := strings.Cut(auth, "Credential="); ok {
			key, _, _ := strings.Cut(cred, "/")
			return key, true
		}
		if v2, ok := strings.CutPrefix(auth, "AWS "); ok {
			key, _, _ := strings.Cut(v2, ":")
			return key, true
		}
		return "", false
	}
	if cred := r.URL.Query().Get("X-Amz-Credential"); cred != "" {
		key, _, _ := strings.Cut(cred, "/")
		return key, true
	}
	return "", false
}

// checkBucketName applies S3's bucket naming rules. Besides telling a
// client early that real S3 would refuse the name, they keep bucket
// directories apart from .meta and .tmp and out of parent directories.
func checkBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("bucket name %q may contain only lower-case letters, digits, '-' and '.'", b)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return fmt.Errorf("bucket name %q must begin and end with a letter or digit", b)
	}
	if strings.Contains(b, "..") {
		return fmt.Errorf("bucket name %q must not contain two adjacent periods", b)
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkKey rejects the keys that cannot be mapped one to one onto a file
// path: S3 takes any key, but ".." would leave the bucket, and ".", empty
// segments and a trailing "/" would name the same file as another key or
// a directory.
func checkKey(key string) error {
	if len(key) > 1024 {
		return fmt.Errorf("key is longer than 1024 bytes")
	}
	if strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("key %q contains a NUL byte", key)
	}
	if os.PathSeparator != '/' && strings.ContainsRune(key, os.PathSeparator) {
		return fmt.Errorf("key %q contains the path separator %q of this system", key, os.PathSeparator)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "..":
			return fmt.Errorf("key %q has a \"..\" path segment", key)
		case ".", "":
			return fmt.Errorf("key %q has an empty or \".\" path segment, or ends in \"/\": s3local keeps keys as file paths", key)
		}
	}
	return nil
}

func (s *Server) bucketPath(bucket string) string { return filepath.Join(s.dir, bucket) }

func (s *Server) dataPath(bucket, key string) string {
	return filepath.Join(s.dir, bucket, filepath.FromSlash(key))
}

func (s *Server) metaPath(bucket, key string) string {
	return filepath.Join(s.dir, metaDir, bucket, filepath.FromSlash(key)+".json")
}

// bucketExists reports whether bucket is a directory. The caller holds mu.
func (s *Server) bucketExists(bucket string) (bool, error) {
	fi, err := os.Stat(s.bucketPath(bucket))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}
