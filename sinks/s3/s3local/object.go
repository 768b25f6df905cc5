package s3local

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	// maxObjectSize is S3's limit for a single PUT.
	maxObjectSize = 5 << 30
	// maxMetadataSize is S3's limit for the user metadata of an object
	// (names and values).
	maxMetadataSize = 2 << 10
	// defaultContentType is what S3 reports for an object stored without
	// a Content-Type.
	defaultContentType = "binary/octet-stream"
)

// Object describes one stored object.
type Object struct {
	Key         string
	Size        int64
	ETag        string // quoted hex MD5 of the data, as in the ETag header
	ContentType string
	// ContentEncoding is the stored Content-Encoding (gzip), without the
	// aws-chunked transfer encoding.
	ContentEncoding string
	LastModified    time.Time
	// Metadata is the user metadata (x-amz-meta-* headers), keyed by the
	// lower-case name without the prefix, as the SDK reports it.
	Metadata map[string]string
}

// sidecar is the JSON document kept beside an object's data. Size and
// ModTime identify the data file it describes: a data file replaced by
// hand (or by a crash between the two renames of a PUT) no longer
// matches, and its sidecar is ignored.
type sidecar struct {
	ETag            string            `json:"etag"` // hex MD5, unquoted
	Size            int64             `json:"size"`
	ModTime         int64             `json:"mod_time_unix_nano"`
	ContentType     string            `json:"content_type,omitempty"`
	ContentEncoding string            `json:"content_encoding,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	// S3 supports only "*" in If-None-Match on writes; a tag there would be
	// silently ignored by a naive server, and the client would believe its
	// write was conditional.
	ifNoneMatch := r.Header.Get("If-None-Match")
	if ifNoneMatch != "" && ifNoneMatch != "*" {
		writeError(w, r, errNotImplemented("If-None-Match other than * on PUT"))
		return
	}
	ifMatch := r.Header.Get("If-Match")

	s.mu.RLock()
	ok, err := s.bucketExists(bucket)
	s.mu.RUnlock()
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	if !ok {
		writeError(w, r, errNoSuchBucket(bucket))
		return
	}

	meta, e := requestMetadata(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	dataTmp, sum, size, e := s.receive(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	// Once renamed, the temporary names may be taken by other writes, so
	// only files that were not moved into place are removed.
	var metaTmp string
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(dataTmp)
			if metaTmp != "" {
				_ = os.Remove(metaTmp)
			}
		}
	}()
	fi, err := os.Stat(dataTmp)
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	meta.ETag = hex.EncodeToString(sum)
	meta.Size = size
	meta.ModTime = fi.ModTime().UnixNano()
	if metaTmp, err = s.writeTemp(meta); err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	committed, e = s.commit(bucket, key, dataTmp, metaTmp, ifNoneMatch == "*", ifMatch)
	if e != nil {
		writeError(w, r, e)
		return
	}
	w.Header().Set("ETag", `"`+meta.ETag+`"`)
	w.WriteHeader(http.StatusOK)
}

// requestMetadata collects what a PUT stores besides the data.
func requestMetadata(r *http.Request) (*sidecar, *apiError) {
	m := &sidecar{ContentType: r.Header.Get("Content-Type")}
	// aws-chunked describes the transfer, not the object: S3 drops it and
	// keeps any other encoding (gzip) for GET to report.
	var enc []string
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "aws-chunked") {
				enc = append(enc, c)
			}
		}
	}
	m.ContentEncoding = strings.Join(enc, ",")
	n := 0
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if k, ok := strings.CutPrefix(lower, "x-amz-meta-"); ok && k != "" {
			if m.Metadata == nil {
				m.Metadata = map[string]string{}
			}
			v := strings.Join(values, ",")
			m.Metadata[k] = v
			n += len(k) + len(v)
		}
	}
	if n > maxMetadataSize {
		return nil, errorf(http.StatusBadRequest, "MetadataTooLarge",
			"Your metadata headers exceed the maximum allowed metadata size (%d > %d bytes).", n, maxMetadataSize)
	}
	return m, nil
}

// receive writes the request body, decoded, to a new temporary file and
// returns its path, MD5 and size. The caller removes the file.
func (s *Server) receive(r *http.Request) (path string, sum []byte, size int64, e *apiError) {
	tooLarge := errorf(http.StatusBadRequest, "EntityTooLarge",
		"Your proposed upload exceeds the maximum allowed object size (%d bytes).", int64(maxObjectSize))
	var body io.Reader = r.Body
	chunked := isAWSChunked(r)
	if chunked {
		body = newChunkedReader(body)
		if n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64); err == nil && n > maxObjectSize {
			return "", nil, 0, tooLarge
		}
	} else if r.ContentLength > maxObjectSize {
		return "", nil, 0, tooLarge
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "put-*")
	if err != nil {
		return "", nil, 0, errInternal(err)
	}
	path = f.Name()
	fail := func(e *apiError) (string, []byte, int64, *apiError) {
		_ = f.Close()
		_ = os.Remove(path)
		return "", nil, 0, e
	}
	h := md5.New()
	// No fsync before the rename: the rename makes a write atomic for
	// readers, which is what the sink's tests rely on; surviving a power
	// loss is not a goal of a demo and test store.
	size, err = io.Copy(io.MultiWriter(f, h), io.LimitReader(body, maxObjectSize+1))
	switch {
	case size > maxObjectSize: // a chunked body without its decoded length
		return fail(tooLarge)
	case errors.Is(err, errChunkFormat):
		return fail(errorf(http.StatusBadRequest, "InvalidRequest", "%v", err))
	case err != nil:
		return fail(errorf(http.StatusBadRequest, "IncompleteBody", "reading the request body: %v", err))
	}
	if err := f.Close(); err != nil {
		return fail(errInternal(err))
	}
	if chunked {
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			want, err := strconv.ParseInt(v, 10, 64)
			if err != nil || want != size {
				return fail(errorf(http.StatusBadRequest, "IncompleteBody",
					"x-amz-decoded-content-length is %s, the decoded body has %d bytes", v, size))
			}
		}
	}
	sum = h.Sum(nil)
	if v := r.Header.Get("Content-MD5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return fail(errorf(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid."))
		}
		if !bytes.Equal(want, sum) {
			return fail(errorf(http.StatusBadRequest, "BadDigest",
				"The Content-MD5 you specified did not match what was received."))
		}
	}
	return path, sum, size, nil
}

// writeTemp writes m to a new temporary file and returns its path.
func (s *Server) writeTemp(m *sidecar) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "meta-*")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// commit moves a received object into place. The preconditions are
// checked and both renames done under mu, so that of concurrent
// conditional PUTs of one key exactly one sees the key absent, and so
// that readers see the data and its sidecar change together. moved
// reports that the temporary files are no longer the caller's, even if
// the second rename failed.
func (s *Server) commit(bucket, key, dataTmp, metaTmp string, ifNoneMatch bool, ifMatch string) (moved bool, e *apiError) {
	data, meta := s.dataPath(bucket, key), s.metaPath(bucket, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The bucket may have been deleted while the body was received.
	ok, err := s.bucketExists(bucket)
	if err != nil {
		return false, errInternal(err)
	}
	if !ok {
		return false, errNoSuchBucket(bucket)
	}
	if ifNoneMatch || ifMatch != "" {
		cur, err := s.loadLocked(bucket, key)
		switch {
		case isNotFound(err):
			if ifMatch != "" {
				return false, errNoSuchKey(key)
			}
		case err != nil:
			return false, errInternal(err)
		case ifNoneMatch:
			return false, errorf(http.StatusPreconditionFailed, "PreconditionFailed",
				"At least one of the pre-conditions you specified did not hold: the key %q exists (If-None-Match: *).", key)
		case !etagMatches(ifMatch, cur.ETag):
			return false, errorf(http.StatusPreconditionFailed, "PreconditionFailed",
				"At least one of the pre-conditions you specified did not hold: the ETag of %q is %s, not %s (If-Match).",
				key, cur.ETag, ifMatch)
		}
	}
	// Find the conflicts with other keys' paths before anything moves,
	// so that a refused PUT leaves the old object whole, and no empty
	// directory that would stand in the way of a later key.
	defer func() {
		if !moved {
			s.removeEmptyParents(filepath.Dir(data), s.bucketPath(bucket))
			s.removeEmptyParents(filepath.Dir(meta), filepath.Join(s.dir, metaDir, bucket))
		}
	}()
	for _, p := range []string{data, meta} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, pathError(key, err)
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return false, pathError(key, &fs.PathError{Op: "rename", Path: p, Err: syscall.EISDIR})
		}
	}
	if err := os.Rename(dataTmp, data); err != nil {
		return false, pathError(key, err)
	}
	if err := os.Rename(metaTmp, meta); err != nil {
		// The data is in place with a stale or missing sidecar, which
		// openLocked detects; the object is readable without its
		// metadata.
		_ = os.Remove(metaTmp)
		return true, pathError(key, err)
	}
	return true, nil
}

// etagMatches reports whether an If-Match value names the ETag (a quoted
// hex MD5): "*" or a list of quoted or bare tags.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.Trim(strings.TrimPrefix(t, "W/"), `"`) == strings.Trim(etag, `"`) {
			return true
		}
	}
	return false
}

// pathError maps the error of creating an object's files: a key whose
// path runs into another key's file or directory ("a" and "a/b", or "a"
// and "a.json/b", whose sidecars collide) cannot be stored in a file
// system, which is the client's to fix.
func pathError(key string, err error) *apiError {
	switch {
	case errors.Is(err, syscall.ENAMETOOLONG):
		return errorf(http.StatusBadRequest, "KeyTooLongError", "key %q: %v", key, err)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR),
		errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTEMPTY):
		return errorf(http.StatusBadRequest, "InvalidArgument",
			"key %q conflicts with another key: s3local keeps an object in the files {bucket}/{key} and .meta/{bucket}/{key}.json, "+
				"so a key cannot also be a directory of another key's files (%v)", key, err)
	}
	return errInternal(err)
}

func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// errIsDir marks a key that names a directory: a prefix of other keys, not
// an object.
var errIsDir = fmt.Errorf("is a directory: %w", fs.ErrNotExist)

// loadLocked describes the object at key. The caller holds mu.
func (s *Server) loadLocked(bucket, key string) (*Object, error) {
	o, f, err := s.openLocked(bucket, key, false)
	if f != nil {
		_ = f.Close()
	}
	return o, err
}

// openLocked describes the object at key and, with open set, opens its
// data. The caller holds mu and closes the file. The ETag of a data file
// without a matching sidecar (put there by hand) is computed from its
// content.
func (s *Server) openLocked(bucket, key string, open bool) (*Object, *os.File, error) {
	path := s.dataPath(bucket, key)
	var (
		f   *os.File
		fi  fs.FileInfo
		err error
	)
	if open {
		if f, err = os.Open(path); err != nil {
			return nil, nil, err
		}
		fi, err = f.Stat()
	} else {
		fi, err = os.Stat(path)
	}
	if err == nil && !fi.Mode().IsRegular() {
		err = errIsDir
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, nil, err
	}
	o := &Object{Key: key, Size: fi.Size(), LastModified: fi.ModTime(), ContentType: defaultContentType}
	var m sidecar
	b, err := os.ReadFile(s.metaPath(bucket, key))
	if err == nil && json.Unmarshal(b, &m) == nil && m.Size == fi.Size() && m.ModTime == fi.ModTime().UnixNano() {
		o.ETag = `"` + m.ETag + `"`
		if m.ContentType != "" {
			o.ContentType = m.ContentType
		}
		o.ContentEncoding = m.ContentEncoding
		o.Metadata = m.Metadata
		return o, f, nil
	}
	sum, err := fileMD5(path)
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, nil, err
	}
	o.ETag = `"` + hex.EncodeToString(sum) + `"`
	return o, f, nil
}

func fileMD5(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	s.mu.RLock()
	ok, err := s.bucketExists(bucket)
	var (
		o *Object
		f *os.File
	)
	if err == nil && ok {
		// The open file keeps the data that matches the sidecar even if a
		// PUT replaces it while the response is written.
		o, f, err = s.openLocked(bucket, key, true)
	}
	s.mu.RUnlock()
	switch {
	case err == nil && !ok:
		writeError(w, r, errNoSuchBucket(bucket))
		return
	case isNotFound(err):
		writeError(w, r, errNoSuchKey(key))
		return
	case err != nil:
		writeError(w, r, errInternal(err))
		return
	}
	defer f.Close()

	h := w.Header()
	h.Set("ETag", o.ETag)
	h.Set("Content-Type", o.ContentType)
	if o.ContentEncoding != "" {
		h.Set("Content-Encoding", o.ContentEncoding)
	}
	for k, v := range o.Metadata {
		h.Set("x-amz-meta-"+k, v)
	}
	q := r.URL.Query()
	for _, name := range []string{"Content-Type", "Content-Language", "Expires", "Cache-Control", "Content-Disposition", "Content-Encoding"} {
		if v := q.Get("response-" + strings.ToLower(name)); v != "" {
			h.Set(name, v)
		}
	}
	// ServeContent adds Content-Length and Last-Modified, answers Range
	// requests and evaluates If-Match, If-None-Match and the
	// If-(Un)Modified-Since conditions against the ETag set above, as S3
	// does; it writes no body for HEAD.
	http.ServeContent(w, r, "", o.LastModified, f)
}

func (s *Server) deleteObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := s.bucketExists(bucket)
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	if !ok {
		writeError(w, r, errNoSuchBucket(bucket))
		return
	}
	// S3 answers 204 whether or not the key existed; a key that is only a
	// prefix of others (a directory) is not an object and stays.
	data := s.dataPath(bucket, key)
	if fi, err := os.Lstat(data); err == nil && !fi.IsDir() {
		if err := os.Remove(data); err != nil {
			writeError(w, r, errInternal(err))
			return
		}
		s.removeEmptyParents(filepath.Dir(data), s.bucketPath(bucket))
	}
	meta := s.metaPath(bucket, key)
	if err := os.Remove(meta); err == nil {
		s.removeEmptyParents(filepath.Dir(meta), filepath.Join(s.dir, metaDir, bucket))
	}
	w.WriteHeader(http.StatusNoContent)
}

// removeEmptyParents removes dir and its parents up to, not including,
// root while they are empty, so that a deleted key's prefix can become an
// object again ("a/b" deleted, then "a" put). The caller holds mu.
func (s *Server) removeEmptyParents(dir, root string) {
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		// After a refused PUT, the parent may be another key's file
		// (its sidecar), which os.Remove would delete.
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			return
		}
		if os.Remove(dir) != nil { // not empty
			return
		}
		dir = filepath.Dir(dir)
	}
}
