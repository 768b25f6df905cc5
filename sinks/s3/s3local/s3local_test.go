package s3local

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

const bucket = "logs"

// start runs a server on a loopback port with the bucket created, as the
// sink's tests do.
func start(t *testing.T, opts ...Option) (*Server, string) {
	t.Helper()
	s, err := New(t.TempDir(), append([]Option{WithBucket(bucket)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, url
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorCode is the Code of an S3 XML error body, or "".
func (r reply) errorCode() string {
	var e struct{ Code string }
	if xml.Unmarshal(r.body, &e) != nil {
		return ""
	}
	return e.Code
}

func do(t *testing.T, method, url string, body []byte, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func wantStatus(t *testing.T, what string, r reply, status int, code string) {
	t.Helper()
	if r.status != status || r.errorCode() != code {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, r.status, r.errorCode(), r.body, status, code)
	}
	if code != "" && r.header.Get("Content-Type") != "application/xml" {
		t.Errorf("%s: error Content-Type %q, want application/xml", what, r.header.Get("Content-Type"))
	}
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestConditionalPutRace(t *testing.T) {
	s, url := start(t)
	const n = 20
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := []byte(fmt.Sprintf("writer %d", i))
			r := do(t, http.MethodPut, url+"/logs/dt=2024-01-01/part-0.json", body, "If-None-Match", "*")
			statuses[i], codes[i] = r.status, r.errorCode()
		})
	}
	wg.Wait()
	winner := -1
	for i := range n {
		switch {
		case statuses[i] == http.StatusOK:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both won", winner, i)
			}
			winner = i
		case statuses[i] != http.StatusPreconditionFailed || codes[i] != "PreconditionFailed":
			t.Fatalf("writer %d: got %d %q, want 412 PreconditionFailed", i, statuses[i], codes[i])
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	got := do(t, http.MethodGet, url+"/logs/dt=2024-01-01/part-0.json", nil)
	if want := fmt.Sprintf("writer %d", winner); string(got.body) != want {
		t.Fatalf("stored %q, want the winner's %q", got.body, want)
	}
	// Losers leave nothing behind.
	if left, _ := os.ReadDir(filepath.Join(s.Dir(), tmpDir)); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	s, url := start(t)
	body := []byte(`{"msg":"hello"}` + "\n")
	key := "topic=app/p=3/offsets=10+20.json"
	put := do(t, http.MethodPut, url+"/logs/"+key, body,
		"Content-Type", "application/x-ndjson",
		"X-Amz-Meta-First-Offset", "10",
		"x-amz-meta-writer", "pod-1")
	wantStatus(t, "put", put, http.StatusOK, "")
	if put.header.Get("ETag") != etagOf(body) {
		t.Fatalf("put ETag %q, want %q", put.header.Get("ETag"), etagOf(body))
	}

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := do(t, method, url+"/logs/"+key, nil)
		wantStatus(t, method, r, http.StatusOK, "")
		h := r.header
		for name, want := range map[string]string{
			"ETag":                    etagOf(body),
			"Content-Type":            "application/x-ndjson",
			"Content-Length":          fmt.Sprint(len(body)),
			"X-Amz-Meta-First-Offset": "10",
			"X-Amz-Meta-Writer":       "pod-1",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s %s = %q, want %q", method, name, got, want)
			}
		}
		if h.Get("Last-Modified") == "" {
			t.Errorf("%s: no Last-Modified", method)
		}
		wantBody := body
		if method == http.MethodHead {
			wantBody = nil
		}
		if !bytes.Equal(r.body, wantBody) {
			t.Errorf("%s body %q, want %q", method, r.body, wantBody)
		}
	}

	// The bucket directory holds exactly the user's file.
	onDisk, err := os.ReadFile(filepath.Join(s.Dir(), "logs", filepath.FromSlash(key)))
	if err != nil || !bytes.Equal(onDisk, body) {
		t.Fatalf("data file: %q, %v", onDisk, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), metaDir, "logs", filepath.FromSlash(key)+".json")); err != nil {
		t.Fatalf("sidecar: %v", err)
	}

	objs, err := s.Objects("logs")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("Objects: %+v", objs)
	}
	o := objs[0]
	if o.Key != key || o.Size != int64(len(body)) || o.ETag != etagOf(body) || o.ContentType != "application/x-ndjson" ||
		!reflect.DeepEqual(o.Metadata, map[string]string{"first-offset": "10", "writer": "pod-1"}) {
		t.Fatalf("Objects: %+v", o)
	}
}

func TestObjectWithoutSidecar(t *testing.T) {
	s, url := start(t)
	// A file put into the bucket directory by hand is an object too.
	data := []byte("by hand")
	if err := os.WriteFile(filepath.Join(s.Dir(), "logs", "manual.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r := do(t, http.MethodGet, url+"/logs/manual.txt", nil)
	wantStatus(t, "get", r, http.StatusOK, "")
	if r.header.Get("ETag") != etagOf(data) || r.header.Get("Content-Type") != defaultContentType {
		t.Fatalf("headers %v", r.header)
	}
	// A data file replaced by hand no longer matches its sidecar.
	do(t, http.MethodPut, url+"/logs/replaced", []byte("v1"), "x-amz-meta-v", "1")
	if err := os.WriteFile(filepath.Join(s.Dir(), "logs", "replaced"), []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = do(t, http.MethodHead, url+"/logs/replaced", nil)
	if r.header.Get("ETag") != etagOf([]byte("version 2")) || r.header.Get("X-Amz-Meta-V") != "" {
		t.Fatalf("stale sidecar used: %v", r.header)
	}
}

type listResult struct {
	KeyCount              int
	IsTruncated           bool
	NextContinuationToken string
	Contents              []struct {
		Key          string
		Size         int64
		ETag         string
		LastModified string
	}
	CommonPrefixes []struct{ Prefix string }
}

func list(t *testing.T, url string) listResult {
	t.Helper()
	r := do(t, http.MethodGet, url, nil)
	wantStatus(t, "list "+url, r, http.StatusOK, "")
	var res listResult
	if err := xml.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("list %s: %v\n%s", url, err, r.body)
	}
	return res
}

func TestListPagination(t *testing.T) {
	_, url := start(t)
	// Byte order puts "a-b" before "a/b" ('-' < '/'), unlike a directory
	// walk; "=" and "+" are kept literally.
	keys := []string{"a/b", "a/c/d", "a-b", "b=1/x+y", "b=1/z", "c", "d/e/f"}
	for _, k := range keys {
		wantStatus(t, "put "+k, do(t, http.MethodPut, url+"/logs/"+k, []byte(k)), http.StatusOK, "")
	}
	want := []string{"a-b", "a/b", "a/c/d", "b=1/x+y", "b=1/z", "c", "d/e/f"}

	var got []string
	token, pages := "", 0
	for {
		u := url + "/logs?list-type=2&max-keys=3"
		if token != "" {
			u += "&continuation-token=" + token
		}
		res := list(t, u)
		pages++
		if res.KeyCount != len(res.Contents) {
			t.Fatalf("KeyCount %d with %d keys", res.KeyCount, len(res.Contents))
		}
		for _, c := range res.Contents {
			got = append(got, c.Key)
			if c.Size != int64(len(c.Key)) || c.ETag != etagOf([]byte(c.Key)) || c.LastModified == "" {
				t.Errorf("entry %+v", c)
			}
		}
		if !res.IsTruncated {
			if res.NextContinuationToken != "" {
				t.Fatal("NextContinuationToken on the last page")
			}
			break
		}
		token = res.NextContinuationToken
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if !reflect.DeepEqual(got, want) || pages != 3 {
		t.Fatalf("keys %q in %d pages, want %q in 3", got, pages, want)
	}

	if res := list(t, url+"/logs?list-type=2&prefix=b%3D1/"); len(res.Contents) != 2 || res.Contents[0].Key != "b=1/x+y" {
		t.Fatalf("prefix b=1/: %+v", res)
	}
	if res := list(t, url+"/logs?list-type=2&prefix=a"); len(res.Contents) != 3 {
		t.Fatalf("prefix a: %+v", res)
	}
	if res := list(t, url+"/logs?list-type=2&prefix=nothing/here/"); res.KeyCount != 0 || res.IsTruncated {
		t.Fatalf("missing prefix: %+v", res)
	}
	if res := list(t, url+"/logs?list-type=2&start-after=b%3D1/z"); len(res.Contents) != 2 || res.Contents[0].Key != "c" {
		t.Fatalf("start-after: %+v", res)
	}

	// With a delimiter, "a/b" and "a/c/d" roll up into "a/", also across
	// a page boundary.
	var entries []string
	token = ""
	for range 10 {
		u := url + "/logs?list-type=2&delimiter=/&max-keys=2"
		if token != "" {
			u += "&continuation-token=" + token
		}
		res := list(t, u)
		for _, c := range res.Contents {
			entries = append(entries, c.Key)
		}
		for _, p := range res.CommonPrefixes {
			entries = append(entries, p.Prefix)
		}
		if !res.IsTruncated {
			break
		}
		token = res.NextContinuationToken
	}
	slices.Sort(entries) // keys and prefixes come apart within a page
	if want := []string{"a-b", "a/", "b=1/", "c", "d/"}; !reflect.DeepEqual(entries, want) {
		t.Fatalf("delimited listing %q, want %q", entries, want)
	}
}

// awsChunked encodes data as the SDK does with a streaming signature and
// a trailing checksum.
func awsChunked(chunkSize int, data []byte) []byte {
	var b bytes.Buffer
	sig := strings.Repeat("a", 64)
	for len(data) > 0 {
		n := min(chunkSize, len(data))
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n", n, sig)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n", sig)
	b.WriteString("x-amz-checksum-crc32:AAAAAA==\r\n")
	b.WriteString("x-amz-trailer-signature:" + sig + "\r\n\r\n")
	return b.Bytes()
}

func TestAWSChunked(t *testing.T) {
	_, url := start(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 5000) // 80000 bytes, 2 chunks and a bit
	put := do(t, http.MethodPut, url+"/logs/chunked", awsChunked(32<<10, data),
		"Content-Encoding", "aws-chunked",
		"X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
		"X-Amz-Decoded-Content-Length", fmt.Sprint(len(data)),
		"X-Amz-Trailer", "x-amz-checksum-crc32")
	wantStatus(t, "put", put, http.StatusOK, "")
	if put.header.Get("ETag") != etagOf(data) {
		t.Fatalf("ETag %q, want the decoded data's %q", put.header.Get("ETag"), etagOf(data))
	}
	get := do(t, http.MethodGet, url+"/logs/chunked", nil)
	if !bytes.Equal(get.body, data) {
		t.Fatalf("got %d bytes, want the %d decoded bytes", len(get.body), len(data))
	}
	if get.header.Get("Content-Encoding") != "" {
		t.Fatalf("aws-chunked stored as Content-Encoding %q", get.header.Get("Content-Encoding"))
	}

	// The unsigned form: no chunk extensions, only the STREAMING- header,
	// and the body ends right after the trailer.
	unsigned := []byte("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n")
	wantStatus(t, "unsigned", do(t, http.MethodPut, url+"/logs/unsigned", unsigned,
		"X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), http.StatusOK, "")
	if got := do(t, http.MethodGet, url+"/logs/unsigned", nil); string(got.body) != "hello world" {
		t.Fatalf("unsigned: got %q", got.body)
	}

	for name, tc := range map[string]struct {
		body    []byte
		decoded string
	}{
		"length mismatch": {awsChunked(10, []byte("hello")), "6"},
		"truncated":       {[]byte("10;chunk-signature=x\r\nshort"), ""},
		"bad size":        {[]byte("zz\r\nhello\r\n0\r\n\r\n"), ""},
		"long chunk":      {[]byte("2\r\nhello\r\n0\r\n\r\n"), ""},
	} {
		hdr := []string{"Content-Encoding", "aws-chunked"}
		if tc.decoded != "" {
			hdr = append(hdr, "X-Amz-Decoded-Content-Length", tc.decoded)
		}
		r := do(t, http.MethodPut, url+"/logs/bad", tc.body, hdr...)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: got %d %s, want 400", name, r.status, r.body)
		}
	}
	if r := do(t, http.MethodHead, url+"/logs/bad", nil); r.status != http.StatusNotFound {
		t.Fatalf("a rejected body was stored: %d", r.status)
	}
}

func TestNotFound(t *testing.T) {
	_, url := start(t)
	wantStatus(t, "get missing key", do(t, http.MethodGet, url+"/logs/missing", nil), http.StatusNotFound, "NoSuchKey")
	wantStatus(t, "get missing bucket", do(t, http.MethodGet, url+"/nobucket/x", nil), http.StatusNotFound, "NoSuchBucket")
	wantStatus(t, "put missing bucket", do(t, http.MethodPut, url+"/nobucket/x", []byte("x")), http.StatusNotFound, "NoSuchBucket")
	wantStatus(t, "list missing bucket", do(t, http.MethodGet, url+"/nobucket?list-type=2", nil), http.StatusNotFound, "NoSuchBucket")
	for _, u := range []string{url + "/logs/missing", url + "/nobucket/x", url + "/nobucket"} {
		r := do(t, http.MethodHead, u, nil)
		if r.status != http.StatusNotFound || len(r.body) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes, want 404 without a body", u, r.status, len(r.body))
		}
	}
	// A prefix of keys is not an object.
	do(t, http.MethodPut, url+"/logs/dir/file", []byte("x"))
	wantStatus(t, "get prefix", do(t, http.MethodGet, url+"/logs/dir", nil), http.StatusNotFound, "NoSuchKey")
	wantStatus(t, "get below a file", do(t, http.MethodGet, url+"/logs/dir/file/x", nil), http.StatusNotFound, "NoSuchKey")
}

func TestBucketsAndDelete(t *testing.T) {
	s, url := start(t)
	wantStatus(t, "head bucket", do(t, http.MethodHead, url+"/logs", nil), http.StatusOK, "")
	wantStatus(t, "create again", do(t, http.MethodPut, url+"/logs", nil), http.StatusConflict, "BucketAlreadyOwnedByYou")
	wantStatus(t, "create", do(t, http.MethodPut, url+"/other", []byte("<CreateBucketConfiguration/>")), http.StatusOK, "")
	wantStatus(t, "head new bucket", do(t, http.MethodHead, url+"/other", nil), http.StatusOK, "")
	wantStatus(t, "bad name", do(t, http.MethodPut, url+"/Bad_Name", nil), http.StatusBadRequest, "InvalidBucketName")

	do(t, http.MethodPut, url+"/other/a/b/c", []byte("x"))
	wantStatus(t, "delete non-empty bucket", do(t, http.MethodDelete, url+"/other", nil), http.StatusConflict, "BucketNotEmpty")
	wantStatus(t, "delete", do(t, http.MethodDelete, url+"/other/a/b/c", nil), http.StatusNoContent, "")
	wantStatus(t, "delete again", do(t, http.MethodDelete, url+"/other/a/b/c", nil), http.StatusNoContent, "")
	wantStatus(t, "get deleted", do(t, http.MethodGet, url+"/other/a/b/c", nil), http.StatusNotFound, "NoSuchKey")
	// The emptied prefix directories went with the object, so "a" can be
	// an object now.
	wantStatus(t, "put former prefix", do(t, http.MethodPut, url+"/other/a", []byte("x")), http.StatusOK, "")
	wantStatus(t, "delete", do(t, http.MethodDelete, url+"/other/a", nil), http.StatusNoContent, "")
	wantStatus(t, "delete bucket", do(t, http.MethodDelete, url+"/other", nil), http.StatusNoContent, "")
	wantStatus(t, "head deleted bucket", do(t, http.MethodHead, url+"/other", nil), http.StatusNotFound, "")
	if _, err := s.Objects("other"); err == nil {
		t.Fatal("Objects of a deleted bucket: no error")
	}

	var buckets struct {
		Buckets struct{ Bucket []struct{ Name string } }
	}
	r := do(t, http.MethodGet, url+"/", nil)
	if err := xml.Unmarshal(r.body, &buckets); err != nil || len(buckets.Buckets.Bucket) != 1 || buckets.Buckets.Bucket[0].Name != "logs" {
		t.Fatalf("ListBuckets: %v %s", err, r.body)
	}
}

func TestAuth(t *testing.T) {
	_, url := start(t, WithCredentials("AKIDRIGHT"))
	sig := func(key string) string {
		return "AWS4-HMAC-SHA256 Credential=" + key + "/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
	}
	wantStatus(t, "wrong key", do(t, http.MethodPut, url+"/logs/x", []byte("x"), "Authorization", sig("AKIDWRONG")),
		http.StatusForbidden, "InvalidAccessKeyId")
	wantStatus(t, "unsigned", do(t, http.MethodGet, url+"/logs?list-type=2", nil), http.StatusForbidden, "AccessDenied")
	wantStatus(t, "right key", do(t, http.MethodPut, url+"/logs/x", []byte("x"), "Authorization", sig("AKIDRIGHT")),
		http.StatusOK, "")
	wantStatus(t, "presigned", do(t, http.MethodGet, url+"/logs/x?X-Amz-Credential=AKIDRIGHT%2F20250101%2Fus-east-1%2Fs3%2Faws4_request", nil),
		http.StatusOK, "")
	if r := do(t, http.MethodHead, url+"/logs/x", nil, "Authorization", sig("AKIDWRONG")); r.status != http.StatusForbidden {
		t.Fatalf("HEAD with the wrong key: %d", r.status)
	}
}

func TestKeyRejection(t *testing.T) {
	s, url := start(t)
	// Go's client sends the path as written, so ".." reaches the server.
	for _, key := range []string{"../escape", "a/../../escape", "a/..", "a//b", "a/./b", "dir/"} {
		r := do(t, http.MethodPut, url+"/logs/"+key, []byte("x"))
		wantStatus(t, "put "+key, r, http.StatusBadRequest, "InvalidArgument")
		wantStatus(t, "get "+key, do(t, http.MethodGet, url+"/logs/"+key, nil), http.StatusBadRequest, "InvalidArgument")
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "escape")); !os.IsNotExist(err) {
		t.Fatalf("a key escaped the bucket: %v", err)
	}
	// A key cannot be both an object and a prefix of one on disk.
	do(t, http.MethodPut, url+"/logs/a", []byte("x"))
	wantStatus(t, "object below an object", do(t, http.MethodPut, url+"/logs/a/b", []byte("x")), http.StatusBadRequest, "InvalidArgument")
	do(t, http.MethodPut, url+"/logs/p/q", []byte("x"))
	wantStatus(t, "object at a prefix", do(t, http.MethodPut, url+"/logs/p", []byte("x")), http.StatusBadRequest, "InvalidArgument")
	// The sidecar of "m" (.meta/logs/m.json) would be the directory of
	// the sidecar of "m.json/n"; the refused PUT leaves "m" whole.
	do(t, http.MethodPut, url+"/logs/m.json/n", []byte("x"))
	wantStatus(t, "sidecar conflict", do(t, http.MethodPut, url+"/logs/m", []byte("x")), http.StatusBadRequest, "InvalidArgument")
	if r := do(t, http.MethodHead, url+"/logs/m", nil); r.status != http.StatusNotFound {
		t.Fatalf("refused PUT stored data: %d", r.status)
	}
	do(t, http.MethodPut, url+"/logs/q", []byte("old"), "x-amz-meta-v", "old")
	wantStatus(t, "sidecar conflict", do(t, http.MethodPut, url+"/logs/q.json/r", []byte("x")), http.StatusBadRequest, "InvalidArgument")
	if r := do(t, http.MethodGet, url+"/logs/q", nil); string(r.body) != "old" || r.header.Get("X-Amz-Meta-V") != "old" {
		t.Fatalf("q changed: %q %v", r.body, r.header)
	}
	wantStatus(t, "no directory left in the way", do(t, http.MethodPut, url+"/logs/q.json", []byte("x")), http.StatusOK, "")
}

func TestPreconditionsAndDigests(t *testing.T) {
	_, url := start(t)
	u := url + "/logs/k"
	wantStatus(t, "if-match on missing", do(t, http.MethodPut, u, []byte("v0"), "If-Match", `"abc"`), http.StatusNotFound, "NoSuchKey")
	wantStatus(t, "create", do(t, http.MethodPut, u, []byte("v1"), "If-None-Match", "*"), http.StatusOK, "")
	wantStatus(t, "stale if-match", do(t, http.MethodPut, u, []byte("v2"), "If-Match", etagOf([]byte("v0"))),
		http.StatusPreconditionFailed, "PreconditionFailed")
	wantStatus(t, "if-match", do(t, http.MethodPut, u, []byte("v2"), "If-Match", etagOf([]byte("v1"))), http.StatusOK, "")
	wantStatus(t, "unconditional", do(t, http.MethodPut, u, []byte("v3")), http.StatusOK, "")
	if got := do(t, http.MethodGet, u, nil); string(got.body) != "v3" {
		t.Fatalf("got %q, want v3", got.body)
	}
	wantStatus(t, "if-none-match tag", do(t, http.MethodPut, u, []byte("v4"), "If-None-Match", `"abc"`), http.StatusNotImplemented, "NotImplemented")

	sum := md5.Sum([]byte("right"))
	wantStatus(t, "content-md5", do(t, http.MethodPut, u, []byte("right"), "Content-MD5", base64.StdEncoding.EncodeToString(sum[:])), http.StatusOK, "")
	wantStatus(t, "bad content-md5", do(t, http.MethodPut, u, []byte("wrong"), "Content-MD5", base64.StdEncoding.EncodeToString(sum[:])),
		http.StatusBadRequest, "BadDigest")

	// A GET conditional on the current ETag, and a range.
	if r := do(t, http.MethodGet, u, nil, "If-None-Match", etagOf([]byte("right"))); r.status != http.StatusNotModified {
		t.Fatalf("If-None-Match GET: %d", r.status)
	}
	if r := do(t, http.MethodGet, u, nil, "Range", "bytes=1-2"); r.status != http.StatusPartialContent || string(r.body) != "ig" {
		t.Fatalf("range GET: %d %q", r.status, r.body)
	}
}

func TestUnsupported(t *testing.T) {
	_, url := start(t)
	wantStatus(t, "multipart", do(t, http.MethodPost, url+"/logs/k?uploads", nil), http.StatusNotImplemented, "NotImplemented")
	wantStatus(t, "part", do(t, http.MethodPut, url+"/logs/k?partNumber=1&uploadId=x", []byte("x")), http.StatusNotImplemented, "NotImplemented")
	wantStatus(t, "copy", do(t, http.MethodPut, url+"/logs/k", nil, "X-Amz-Copy-Source", "/logs/j"), http.StatusNotImplemented, "NotImplemented")
	wantStatus(t, "list v1", do(t, http.MethodGet, url+"/logs", nil), http.StatusNotImplemented, "NotImplemented")
	wantStatus(t, "patch", do(t, http.MethodPatch, url+"/logs/k", nil), http.StatusMethodNotAllowed, "MethodNotAllowed")
	// The SDK names the operation in x-id; that is not a subresource.
	wantStatus(t, "x-id", do(t, http.MethodPut, url+"/logs/k?x-id=PutObject", []byte("x")), http.StatusOK, "")
}

// The handler also works mounted by the test itself.
func TestServeHTTP(t *testing.T) {
	s, err := New(t.TempDir(), WithBucket(bucket))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	wantStatus(t, "put", do(t, http.MethodPut, ts.URL+"/logs/x", []byte("x")), http.StatusOK, "")
	if err := s.Close(); err != nil { // not started: nothing to do
		t.Fatal(err)
	}

	// A body declared over S3's 5 GiB limit is refused before it is read.
	req := httptest.NewRequest(http.MethodPut, "/logs/huge", strings.NewReader("x"))
	req.ContentLength = 6 << 30
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if r := (reply{status: rec.Code, body: rec.Body.Bytes()}); r.status != http.StatusBadRequest || r.errorCode() != "EntityTooLarge" {
		t.Fatalf("huge PUT: %d %s", r.status, r.body)
	}
}

func TestNewRejectsBadBucket(t *testing.T) {
	if _, err := New(t.TempDir(), WithBucket("UPPER")); err == nil || !strings.HasPrefix(err.Error(), "s3local: ") {
		t.Fatalf("got %v, want an s3local error", err)
	}
}
