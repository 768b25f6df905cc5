package paging

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/logstream/logstream/schemas"
)

// URLTemplate is a link an alert carries (Alertmanager's generatorURL, a
// runbook_url annotation): a URL in which {host}, {scope}, {rule} and
// {dedup_key} stand for the alert's values, escaped so that they fit in a
// path or a query. A URL without placeholders is the same for every alert.
// The zero value is no link.
type URLTemplate struct {
	raw   string
	parts []string // literal, placeholder name, literal, name, ..., literal
}

// urlFields are the placeholders a URLTemplate knows.
var urlFields = map[string]func(*schemas.Alert) string{
	"host":      func(a *schemas.Alert) string { return a.Host },
	"scope":     func(a *schemas.Alert) string { return a.Scope },
	"rule":      func(a *schemas.Alert) string { return a.Rule },
	"dedup_key": func(a *schemas.Alert) string { return a.DedupKey },
}

// ParseURLTemplate parses s; "" is no link. It refuses an unknown or
// unclosed placeholder, and a template that does not make an absolute
// http(s) URL.
func ParseURLTemplate(s string) (URLTemplate, error) {
	if s == "" {
		return URLTemplate{}, nil
	}
	t := URLTemplate{raw: s}
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return URLTemplate{}, fmt.Errorf("paging: URL template %q: unclosed {", s)
		}
		name := rest[i+1 : i+j]
		if _, ok := urlFields[name]; !ok {
			return URLTemplate{}, fmt.Errorf("paging: URL template %q: unknown placeholder {%s} (known: %s)", s, name, knownFields())
		}
		t.parts = append(t.parts, rest[:i], name)
		rest = rest[i+j+1:]
	}
	sample := t.Expand(&schemas.Alert{Host: "web-1", Scope: schemas.ScopeHost, Rule: "host_error_rate", DedupKey: "logstream/host/web-1/1"})
	if err := checkURL("template", sample); err != nil {
		return URLTemplate{}, fmt.Errorf("paging: URL template %q does not make an http(s) URL (e.g. %q)", s, sample)
	}
	return t, nil
}

func knownFields() string {
	var names []string
	for n := range urlFields {
		names = append(names, "{"+n+"}")
	}
	slices.Sort(names)
	return strings.Join(names, " ")
}

// IsZero reports whether t is no link.
func (t URLTemplate) IsZero() bool { return t.raw == "" }

// String returns the template as it was parsed.
func (t URLTemplate) String() string { return t.raw }

// Expand returns t's link for a; "" when t is no link.
func (t URLTemplate) Expand(a *schemas.Alert) string {
	var b strings.Builder
	for i, p := range t.parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		// QueryEscape, but a space as %20: valid in a path and a query.
		b.WriteString(strings.ReplaceAll(url.QueryEscape(urlFields[p](a)), "+", "%20"))
	}
	return b.String()
}
