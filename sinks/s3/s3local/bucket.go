package s3local

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// s3Namespace is the XML namespace of S3 documents.
const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// timeFormat is the ISO 8601 form of times in S3 XML documents.
const timeFormat = "2006-01-02T15:04:05.000Z"

// maxListKeys is the most keys one ListObjectsV2 page has, and the
// default, as in S3.
const maxListKeys = 1000

func (s *Server) headBucket(w http.ResponseWriter, r *http.Request, bucket string) {
	s.mu.RLock()
	ok, err := s.bucketExists(bucket)
	s.mu.RUnlock()
	switch {
	case err != nil:
		writeError(w, r, errInternal(err))
	case !ok:
		writeError(w, r, errNoSuchBucket(bucket))
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (s *Server) createBucket(w http.ResponseWriter, r *http.Request, bucket string) {
	// The body, if any, is a CreateBucketConfiguration (the region); a
	// local store has one region.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := s.bucketExists(bucket)
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	if ok {
		// As S3 outside us-east-1 does: the SDK surfaces it as
		// types.BucketAlreadyOwnedByYou, which callers treat as success.
		writeError(w, r, errorf(http.StatusConflict, "BucketAlreadyOwnedByYou",
			"Your previous request to create the named bucket succeeded and you already own it."))
		return
	}
	if err := os.Mkdir(s.bucketPath(bucket), 0o755); err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) deleteBucket(w http.ResponseWriter, r *http.Request, bucket string) {
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
	// os.Remove fails on a non-empty directory, which is S3's rule too.
	if err := os.Remove(s.bucketPath(bucket)); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, fs.ErrExist) {
			writeError(w, r, errorf(http.StatusConflict, "BucketNotEmpty", "The bucket %q you tried to delete is not empty.", bucket))
			return
		}
		writeError(w, r, errInternal(err))
		return
	}
	_ = os.RemoveAll(filepath.Join(s.dir, metaDir, bucket))
	w.WriteHeader(http.StatusNoContent)
}

type listAllMyBucketsResult struct {
	XMLName xml.Name     `xml:"ListAllMyBucketsResult"`
	Xmlns   string       `xml:"xmlns,attr"`
	Owner   owner        `xml:"Owner"`
	Buckets []bucketInfo `xml:"Buckets>Bucket"`
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type bucketInfo struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

func (s *Server) listBuckets(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	entries, err := os.ReadDir(s.dir)
	s.mu.RUnlock()
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	res := listAllMyBucketsResult{Xmlns: s3Namespace, Owner: owner{ID: "s3local", DisplayName: "s3local"}}
	for _, e := range entries {
		if !e.IsDir() || checkBucketName(e.Name()) != nil {
			continue
		}
		// A directory has no creation time; its modification time is the
		// closest the file system keeps.
		var created time.Time
		if fi, err := e.Info(); err == nil {
			created = fi.ModTime()
		}
		res.Buckets = append(res.Buckets, bucketInfo{Name: e.Name(), CreationDate: created.UTC().Format(timeFormat)})
	}
	writeXML(w, r, res)
}

type listBucketResult struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	Xmlns                 string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []listContents `xml:"Contents"`
	CommonPrefixes        []listPrefix   `xml:"CommonPrefixes"`
}

type listContents struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type listPrefix struct {
	Prefix string `xml:"Prefix"`
}

// A continuation token is the last entry of the previous page, marked as a
// key ("k") or a common prefix ("p"): after a common prefix, every key
// under it is skipped, not only the keys up to it.
func encodeToken(entry string, isPrefix bool) string {
	kind := "k"
	if isPrefix {
		kind = "p"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(kind + entry))
}

func decodeToken(tok string) (entry string, isPrefix bool, err error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || (b[0] != 'k' && b[0] != 'p') {
		return "", false, fmt.Errorf("the continuation token %q is not one this server issued", tok)
	}
	return string(b[1:]), b[0] == 'p', nil
}

func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	res := listBucketResult{
		Xmlns:             s3Namespace,
		Name:              bucket,
		Prefix:            q.Get("prefix"),
		Delimiter:         q.Get("delimiter"),
		StartAfter:        q.Get("start-after"),
		ContinuationToken: q.Get("continuation-token"),
		MaxKeys:           maxListKeys,
	}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, errorf(http.StatusBadRequest, "InvalidArgument", "max-keys %q is not a non-negative integer", v))
			return
		}
		res.MaxKeys = min(n, maxListKeys)
	}
	after, afterPrefix := res.StartAfter, false
	if res.ContinuationToken != "" {
		var err error
		if after, afterPrefix, err = decodeToken(res.ContinuationToken); err != nil {
			writeError(w, r, errorf(http.StatusBadRequest, "InvalidArgument", "%v", err))
			return
		}
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	ok, err := s.bucketExists(bucket)
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	if !ok {
		writeError(w, r, errNoSuchBucket(bucket))
		return
	}
	keys, err := s.keysLocked(bucket, res.Prefix)
	if err != nil {
		writeError(w, r, errInternal(err))
		return
	}
	var last string
	var lastIsPrefix bool
	for _, k := range keys {
		if k <= after || afterPrefix && strings.HasPrefix(k, after) {
			continue
		}
		entry, isPrefix := k, false
		if res.Delimiter != "" {
			if i := strings.Index(k[len(res.Prefix):], res.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(res.Prefix)+i+len(res.Delimiter)], true
				if isPrefix && lastIsPrefix && entry == last {
					continue // rolled up into the common prefix just added
				}
			}
		}
		if res.KeyCount == res.MaxKeys {
			res.IsTruncated = res.MaxKeys > 0
			break
		}
		if isPrefix {
			res.CommonPrefixes = append(res.CommonPrefixes, listPrefix{Prefix: entry})
		} else {
			o, err := s.loadLocked(bucket, k)
			if isNotFound(err) {
				continue // removed by hand since the walk
			}
			if err != nil {
				writeError(w, r, errInternal(err))
				return
			}
			res.Contents = append(res.Contents, listContents{
				Key:          k,
				LastModified: o.LastModified.UTC().Format(timeFormat),
				ETag:         o.ETag,
				Size:         o.Size,
				StorageClass: "STANDARD",
			})
		}
		res.KeyCount++
		last, lastIsPrefix = entry, isPrefix
	}
	if res.IsTruncated {
		res.NextContinuationToken = encodeToken(last, lastIsPrefix)
	}
	writeXML(w, r, res)
}

// keysLocked returns the keys of bucket that start with prefix, in
// lexicographic (byte) order. The walk starts at the deepest directory the
// prefix names, so listing one partition of a large bucket does not read
// the others. The caller holds mu.
func (s *Server) keysLocked(bucket, prefix string) ([]string, error) {
	root := s.bucketPath(bucket)
	start := root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir := prefix[:i]
		if checkKey(dir) != nil {
			return nil, nil // no key can be under a prefix no key can have
		}
		start = filepath.Join(root, filepath.FromSlash(dir))
	}
	var keys []string
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == start && isNotFound(err) {
				return filepath.SkipDir
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked into; links and devices are not objects
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil && !(isNotFound(err) && len(keys) == 0) {
		return nil, err
	}
	// The walk is in order per directory, but "a-b" sorts before "a/b"
	// in S3 and after the directory "a" in a walk.
	sort.Strings(keys)
	return keys, nil
}

// Objects returns the objects of bucket in key order: a convenient view
// for tests and the demo.
func (s *Server) Objects(bucket string) ([]Object, error) {
	if err := checkBucketName(bucket); err != nil {
		return nil, fmt.Errorf("s3local: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ok, err := s.bucketExists(bucket)
	if err != nil {
		return nil, fmt.Errorf("s3local: bucket %q: %w", bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3local: bucket %q: %w", bucket, fs.ErrNotExist)
	}
	keys, err := s.keysLocked(bucket, "")
	if err != nil {
		return nil, fmt.Errorf("s3local: list bucket %q: %w", bucket, err)
	}
	objs := make([]Object, 0, len(keys))
	for _, k := range keys {
		o, err := s.loadLocked(bucket, k)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("s3local: object %q: %w", k, err)
		}
		objs = append(objs, *o)
	}
	return objs, nil
}
