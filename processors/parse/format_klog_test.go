package parse

import (
	"strconv"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// Lines as kubelet, kube-apiserver, kube-scheduler and
// kube-controller-manager write them (klog v2), and glog's.
func TestKlogLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "kube-apiserver, plain message with a colon",
			line: `I0501 12:00:00.000123       1 controller.go:615] quota admission added evaluator for: leases.coordination.k8s.io`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.000123Z"), Level: schemas.LevelInfo, Format: "klog",
				Message: "quota admission added evaluator for: leases.coordination.k8s.io",
				Labels:  labels("thread", "1", "caller", "controller.go:615"),
			},
		},
		{
			name: "kube-apiserver warning, quotes inside a plain message",
			line: `W0501 12:00:03.500000       1 dispatcher.go:205] Failed calling webhook, failing open policy.example.com: failed calling webhook "policy.example.com": Post "https://policy.svc:443/validate?timeout=10s": context deadline exceeded`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:03.5Z"), Level: schemas.LevelWarn, Format: "klog",
				Message: `Failed calling webhook, failing open policy.example.com: failed calling webhook "policy.example.com": Post "https://policy.svc:443/validate?timeout=10s": context deadline exceeded`,
				Labels:  labels("thread", "1", "caller", "dispatcher.go:205"),
			},
		},
		{
			name: "kubelet ErrorS: escaped quotes in err, pod and podUID",
			line: `E0501 12:00:01.000001    4711 pod_workers.go:1300] "Error syncing pod, skipping" err="failed to \"StartContainer\" for \"app\" with CrashLoopBackOff: \"back-off 5m0s restarting failed container=app pod=web-7d4b9c8f6-x2x9z_default(3f1c2a9e-5b7d-4e0a-9c1b-2d3e4f5a6b7c)\"" pod="default/web-7d4b9c8f6-x2x9z" podUID="3f1c2a9e-5b7d-4e0a-9c1b-2d3e4f5a6b7c"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:01.000001Z"), Level: schemas.LevelError, Format: "klog",
				Message: "Error syncing pod, skipping",
				Labels: labels("thread", "4711", "caller", "pod_workers.go:1300",
					"err", `failed to "StartContainer" for "app" with CrashLoopBackOff: "back-off 5m0s restarting failed container=app pod=web-7d4b9c8f6-x2x9z_default(3f1c2a9e-5b7d-4e0a-9c1b-2d3e4f5a6b7c)"`,
					"pod", "default/web-7d4b9c8f6-x2x9z", "podUID", "3f1c2a9e-5b7d-4e0a-9c1b-2d3e4f5a6b7c"),
			},
		},
		{
			name: "kubelet SyncLoop ADD with a slice value",
			line: `I0501 12:00:00.362870    4711 kubelet.go:2425] "SyncLoop ADD" source="api" pods=["default/nginx-7854ff8877-xqzvd" "kube-system/coredns-5d78c9869d-abcde"]`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.36287Z"), Level: schemas.LevelInfo, Format: "klog", Message: "SyncLoop ADD",
				Labels: labels("thread", "4711", "caller", "kubelet.go:2425", "source", "api",
					"pods", `["default/nginx-7854ff8877-xqzvd" "kube-system/coredns-5d78c9869d-abcde"]`),
			},
		},
		{
			name: "kube-apiserver httplog",
			line: `I0501 12:00:02.345678      12 httplog.go:132] "HTTP" verb="GET" URI="/api/v1/namespaces/default/pods?limit=500" latency="3.456789ms" userAgent="kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b" audit-ID="a1b2c3d4-e5f6-7890-abcd-ef1234567890" srcIP="10.0.0.5:53412" resp=200`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:02.345678Z"), Level: schemas.LevelInfo, Format: "klog", Message: "HTTP",
				Labels: labels("thread", "12", "caller", "httplog.go:132", "verb", "GET", "URI", "/api/v1/namespaces/default/pods?limit=500",
					"latency", "3.456789ms", "userAgent", "kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b",
					"audit-ID", "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "srcIP", "10.0.0.5:53412", "resp", "200"),
			},
		},
		{
			name: "kube-scheduler, numbers unquoted",
			line: `I0501 12:00:04.000000       1 schedule_one.go:286] "Successfully bound pod to node" pod="default/web-1" node="node-2" evaluatedNodes=3 feasibleNodes=2`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:04Z"), Level: schemas.LevelInfo, Format: "klog", Message: "Successfully bound pod to node",
				Labels: labels("thread", "1", "caller", "schedule_one.go:286", "pod", "default/web-1", "node", "node-2",
					"evaluatedNodes", "3", "feasibleNodes", "2"),
			},
		},
		{
			name: "kube-controller-manager event, empty value",
			line: `I0501 12:00:05.000000       1 event.go:307] "Event occurred" object="default/web" fieldPath="" kind="Deployment" reason="ScalingReplicaSet" message="Scaled up replica set web-7d4b9c8f6 to 3"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:05Z"), Level: schemas.LevelInfo, Format: "klog", Message: "Event occurred",
				Labels: labels("thread", "1", "caller", "event.go:307", "object", "default/web", "fieldPath", "", "kind", "Deployment",
					"reason", "ScalingReplicaSet", "message", "Scaled up replica set web-7d4b9c8f6 to 3"),
			},
		},
		{
			name: "trace context in pairs",
			line: `I0501 12:00:06.000000       1 trace.go:236] "Request handled" traceID="4BF92F3577B34DA6A3CE929D0E0E4736" spanID="00f067aa0ba902b7" user="admin"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:06Z"), Level: schemas.LevelInfo, Format: "klog", Message: "Request handled",
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				Labels: labels("thread", "1", "caller", "trace.go:236", "user", "admin"),
			},
		},
		{
			name: "traceparent, and a bad trace id kept as a label",
			line: `W0501 12:00:06.000000       1 x.go:9] "slow" traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" trace_id="nope"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:06Z"), Level: schemas.LevelWarn, Format: "klog", Message: "slow",
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				Labels: labels("thread", "1", "caller", "x.go:9", "trace_id", "nope"),
			},
		},
		{
			name: "%+v values with blanks inside brackets",
			line: `I0501 12:00:00.000000    4711 reconciler.go:52] "Reconciled" conditions=[Ready Synced] spec={Replicas:3 Paused:false} labels=map[app:web tier:frontend] err=<nil>`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Format: "klog", Message: "Reconciled",
				Labels: labels("thread", "4711", "caller", "reconciler.go:52", "conditions", "[Ready Synced]",
					"spec", "{Replicas:3 Paused:false}", "labels", "map[app:web tier:frontend]", "err", "<nil>"),
			},
		},
		{
			name: "structured message alone, escapes",
			line: `I0501 12:00:00.000000    4711 main.go:1] "tab\there \"quoted\" \u00e9"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Format: "klog", Message: "tab\there \"quoted\" é",
				Labels: labels("thread", "4711", "caller", "main.go:1"),
			},
		},
		{
			name: "a quote that opens prose is not a structured message",
			line: `I0501 12:00:00.000000    4711 main.go:1] "quoted" said the program`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Format: "klog", Message: `"quoted" said the program`,
				Labels: labels("thread", "4711", "caller", "main.go:1"),
			},
		},
		{
			name: "pairs then prose: the rest kept in extra",
			line: `I0501 12:00:00.000000    4711 main.go:1] "msg" key=1 and then words`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Format: "klog", Message: "msg",
				Labels: labels("thread", "4711", "caller", "main.go:1", "key", "1", "extra", "and then words"),
			},
		},
		{
			name: "multi-line value: only its opening is on the line",
			line: `I0501 12:00:00.000000    4711 dump.go:7] "Object dump" obj=<`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Format: "klog", Message: "Object dump",
				Labels: labels("thread", "4711", "caller", "dump.go:7", "obj", "<"),
			},
		},
		{
			name: "fatal, --add_dir_header path, empty message",
			line: `F0501 12:00:00.000000    4711 k8s.io/kubernetes/cmd/kubelet/app/server.go:210]`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelFatal, Format: "klog",
				Labels: labels("thread", "4711", "caller", "k8s.io/kubernetes/cmd/kubelet/app/server.go:210"),
			},
		},
		{
			name: "seven-digit pid: a single blank before it",
			line: `E0501 12:00:00.000000 1234567 main.go:55] failed to start: listen tcp :8080: bind: address already in use`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelError, Format: "klog",
				Message: "failed to start: listen tcp :8080: bind: address already in use",
				Labels:  labels("thread", "1234567", "caller", "main.go:55"),
			},
		},
		{
			name: "glog 0.7 with the year and a long thread id",
			line: `E20240501 12:00:00.123456 139876543210 server.cc:88] RPC failed: deadline exceeded`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123456Z"), Level: schemas.LevelError, Format: "klog", Message: "RPC failed: deadline exceeded",
				Labels: labels("thread", "139876543210", "caller", "server.cc:88"),
			},
		},
		{
			name: "no year: a date ahead of the clock is last year's",
			line: `I1231 23:59:59.999999       1 main.go:1] year end`,
			want: Fields{
				Timestamp: ts("2023-12-31T23:59:59.999999Z"), Level: schemas.LevelInfo, Format: "klog", Message: "year end",
				Labels: labels("thread", "1", "caller", "main.go:1"),
			},
		},
		{
			name: "kube-apiserver static pod through the container runtime",
			line: `2024-05-01T12:00:00.500000000Z stderr F E0501 12:00:00.499001       1 status.go:71] "Unhandled Error" err="apiserver received an error that is not an metav1.Status: context canceled"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.499001Z"), Level: schemas.LevelError, Format: "cri", Message: "Unhandled Error",
				Labels: labels("stream", "stderr", "thread", "1", "caller", "status.go:71",
					"err", "apiserver received an error that is not an metav1.Status: context canceled"),
			},
		},
		{
			name: "malformed: unreadable date, the rest kept",
			line: `W1301 12:00:00.000000       1 main.go:1] "bad month" n=1`,
			want: Fields{
				Level: schemas.LevelWarn, Format: "klog", Message: "bad month",
				ParseError: `klog: unreadable timestamp "1301 12:00:00.000000" in field "timestamp"`,
				Labels:     labels("thread", "1", "caller", "main.go:1", "n", "1"),
			},
		},
		{
			name: "malformed: unterminated quoted value",
			line: `I0501 12:00:00.000000       1 main.go:1] "msg" key="open`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Format: "klog", Message: "msg",
				ParseError: `klog: unterminated quoted value for key "key"`,
				Labels:     labels("thread", "1", "caller", "main.go:1", "key", "open"),
			},
		},
	})
}

func TestKlogRejects(t *testing.T) {
	for _, line := range []string{
		`I0501 12:00:00 4711 main.go:1] no fraction`,
		`X0501 12:00:00.123456    4711 main.go:1] unknown severity`,
		`I0501 12:00:00.123456    4711 main.go] no line number`,
		`I0501 12:00:00.123456    4711 main.go:1]no blank after the bracket`,
		`I0501 12:00:00.123456 main.go:1] no thread id`,
		`I501 12:00:00.123456    4711 main.go:1] three digits of date`,
		`I0501 12:00:00.123456    4711 main.go:12 missing bracket`,
		`E0501 is an error code, not a klog line`,
		`I050112:00:00.123456    4711 main.go:1] glued`,
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}

// FuzzKlogStructured builds a structured klog line the way klog writes one
// and checks that the message and the pair come back unchanged.
func FuzzKlogStructured(f *testing.F) {
	f.Add("Error syncing pod, skipping", "err", `failed to "StartContainer" for "app"`)
	f.Add("", "pod", "kube-system/coredns-5d78c9869d-abcde")
	f.Add("multi\nline", "k", "v\t\x00é")
	f.Add("x", "audit-ID", "")
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		if !isKlogTestKey(key) {
			return
		}
		line := `I0501 12:00:00.123456    4711 server.go:42] ` + strconv.Quote(msg) + " " + key + "=" + strconv.Quote(val)
		got := ParseLine(line)
		checkInvariants(t, line, got)
		if got.Format != "klog" || got.ParseError != "" {
			t.Fatalf("%q: format %q error %q", line, got.Format, got.ParseError)
		}
		if got.Message != msg || got.Labels[key] != val {
			t.Fatalf("%q: message %q labels %v", line, got.Message, got.Labels)
		}
	})
}

// isKlogTestKey: a key the fuzz test expects back as a label (not one of
// the header's, not a trace key, not our own "extra").
func isKlogTestKey(k string) bool {
	if k == "" || k == "thread" || k == "caller" || k == "extra" {
		return false
	}
	if c, _ := classifyKey(k); c == keyTraceID || c == keySpanID || c == keyTraceparent {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isLogfmtKeyChar(k[i]) {
			return false
		}
	}
	return true
}
