package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// RedactedValue replaces a secret flag's value in /debug/pprof/cmdline.
const RedactedValue = "<redacted>"

// Cmdline serves the command line as net/http/pprof.Cmdline does (the
// arguments separated by NUL bytes, which is what `go tool pprof` reads),
// with the values of the secret flags replaced by RedactedValue. args nil
// means os.Args, read at each request.
func Cmdline(args []string, secretFlags []string) http.Handler {
	secret := make(map[string]bool, len(secretFlags))
	for _, f := range secretFlags {
		secret[strings.TrimLeft(f, "-")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a := args
		if a == nil {
			a = os.Args
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, strings.Join(RedactArgs(a, secret), "\x00"))
	})
}

// RedactArgs returns a copy of args (args[0] being the program) with the
// value of every flag named in secret replaced by RedactedValue:
// "--name value" and "-name value" redact the next argument whatever it
// looks like, "--name=value" the part after "=". It reads args as the
// flag package does, so it cannot tell a flag's value from a positional
// argument; it errs towards redacting. Arguments after "--" are positional
// and kept. Any other argument holding a URL with a password
// (http://user:pass@host, as --registry or --brokers-like values may) gets
// the password masked, as url.URL.Redacted does.
func RedactArgs(args []string, secret map[string]bool) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 1; i < len(out); i++ {
		a := out[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			out[i] = redactURL(a)
			continue
		}
		name := strings.TrimLeft(a, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			if secret[n] {
				out[i] = a[:len(a)-len(name)] + n + "=" + RedactedValue
			} else {
				out[i] = a[:len(a)-len(name)] + n + "=" + redactURL(v)
			}
			continue
		}
		if secret[name] && i+1 < len(out) {
			i++
			out[i] = RedactedValue
		}
	}
	return out
}

// redactURL masks the password of v when v is a URL that has one.
func redactURL(v string) string {
	if !strings.Contains(v, "@") || !strings.Contains(v, "://") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); !ok {
		return v
	}
	return u.Redacted()
}
