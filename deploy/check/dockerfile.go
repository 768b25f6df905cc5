package main

import (
	"regexp"
	"strings"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, USER...
	args string
}

func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur == nil && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		cont := strings.HasSuffix(line, "\\")
		line = strings.TrimSuffix(line, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(line, " ")
			cur = &instruction{line: i + 1, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		} else if !strings.HasPrefix(line, "#") {
			cur.args += " " + strings.TrimSpace(line)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

var (
	urlSource   = regexp.MustCompile(`(?i)(^|\s)(https?://|git@|git://)`)
	rootUser    = regexp.MustCompile(`^(root|0)(:|$)`)
	staticImage = regexp.MustCompile(`^(scratch|(\S+/)?distroless/static[-a-z0-9]*)(:|@|$)`)
)

// Dockerfile checks the image's recipe, without Docker: several stages,
// a static binary (CGO_ENABLED=0) with the version and commit the binary
// prints, a final stage on scratch or distroless static that runs as a
// user other than root, OCI version labels, and no ADD of a URL (an
// unpinned download into the image).
func Dockerfile(text string) []string {
	var p problems
	type stage struct {
		image, alias   string
		user           string
		labels         string
		copiesFromPrev bool
	}
	var stages []*stage
	static := false
	for _, in := range parseDockerfile(text) {
		var st *stage
		if len(stages) > 0 {
			st = stages[len(stages)-1]
		}
		switch in.cmd {
		case "FROM":
			f := strings.Fields(in.args)
			var image, alias string
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					alias = f[i+1]
					i++
				default:
					image = f[i]
				}
			}
			stages = append(stages, &stage{image: image, alias: alias})
		case "ADD":
			if urlSource.MatchString(in.args) {
				p.addf("Dockerfile:%d: ADD of a URL: download in a build stage with a checksum, or COPY", in.line)
			}
		case "USER":
			if st != nil {
				st.user = in.args
			}
		case "LABEL":
			if st != nil {
				st.labels += " " + in.args
			}
		case "COPY":
			if st != nil && strings.Contains(in.args, "--from=") {
				st.copiesFromPrev = true
			}
		case "RUN":
			if strings.Contains(in.args, "go build") {
				static = strings.Contains(in.args, "CGO_ENABLED=0")
				for _, x := range []string{"-X main.version=", "-X main.commit="} {
					if !strings.Contains(in.args, x) {
						p.addf("Dockerfile:%d: go build without %s (logstream version prints it)", in.line, x)
					}
				}
			}
		}
	}
	if len(stages) < 2 {
		p.addf("Dockerfile: %d stage(s): build in one stage, copy the binary into a minimal one", len(stages))
		return p
	}
	if !static {
		p.addf("Dockerfile: no go build with CGO_ENABLED=0: the binary must be static for a runtime image without libc")
	}
	final := stages[len(stages)-1]
	if !staticImage.MatchString(final.image) {
		p.addf("Dockerfile: the final stage is FROM %s, want scratch or a distroless static image", final.image)
	}
	if !final.copiesFromPrev {
		p.addf("Dockerfile: the final stage copies nothing from the build stage")
	}
	if final.user == "" || rootUser.MatchString(final.user) {
		p.addf("Dockerfile: the final stage runs as %q: set USER to a non-root user (65532:65532, distroless's nonroot)", final.user)
	}
	for _, l := range []string{"org.opencontainers.image.version", "org.opencontainers.image.revision"} {
		if !strings.Contains(final.labels, l+"=") {
			p.addf("Dockerfile: the final stage has no %s label", l)
		}
	}
	return p
}
