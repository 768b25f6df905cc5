package parse

import (
	"testing"

	"github.com/logstream/logstream/schemas"
)

func TestJavaLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "logback",
			line: `2024-05-01 12:00:00.123 ERROR [http-nio-8080-exec-1] c.e.payments.DbPool - Connection timeout after 3012 ms`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Service: "c.e.payments.DbPool", Level: schemas.LevelError,
				Message: "Connection timeout after 3012 ms", Format: "java", Labels: labels("thread", "http-nio-8080-exec-1"),
			},
		},
		{
			name: "log4j comma millis, thread first, WARNING",
			line: `2024-05-01 12:00:00,123 [main] WARNING com.example.App - slow start`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Service: "com.example.App", Level: schemas.LevelWarn,
				Message: "slow start", Format: "java", Labels: labels("thread", "main"),
			},
		},
		{
			name: "ISO T separator with zone, padded level",
			line: `2024-05-01T12:00:00.123+02:00 INFO  [pool-1-thread-3] org.acme.Worker - job 7 done`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00.123Z"), Service: "org.acme.Worker", Level: schemas.LevelInfo,
				Message: "job 7 done", Format: "java", Labels: labels("thread", "pool-1-thread-3"),
			},
		},
		{
			name: "thread name with spaces",
			line: `2024-05-01 12:00:00.123 DEBUG [RMI TCP Connection(2)-127.0.0.1] sun.rmi.transport - accepted`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Service: "sun.rmi.transport", Level: schemas.LevelDebug,
				Message: "accepted", Format: "java", Labels: labels("thread", "RMI TCP Connection(2)-127.0.0.1"),
			},
		},
		{
			name: "Spring Boot 2",
			line: `2024-05-01 12:00:00.123  INFO 4711 --- [           main] o.s.b.w.embedded.tomcat.TomcatWebServer  : Tomcat started on port(s): 8080 (http)`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Service: "o.s.b.w.embedded.tomcat.TomcatWebServer", Level: schemas.LevelInfo,
				Message: "Tomcat started on port(s): 8080 (http)", Format: "java", Labels: labels("pid", "4711", "thread", "main"),
			},
		},
		{
			name: "Spring Boot 3 with application name",
			line: `2024-05-01T12:00:00.123+02:00  WARN 4711 --- [myapp] [main] c.e.App : low memory`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00.123Z"), Service: "c.e.App", Level: schemas.LevelWarn,
				Message: "low memory", Format: "java", Labels: labels("pid", "4711", "app", "myapp", "thread", "main"),
			},
		},
		{
			name: "java.util.logging SEVERE, no logger",
			line: `2024-05-01 12:00:00 SEVERE something bad happened`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelError, Message: "something bad happened", Format: "java"},
		},
		{
			name: "logger ending in a colon",
			line: `2024-05-01 12:00:00,5 FATAL Main: giving up`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Service: "Main", Level: schemas.LevelFatal, Message: "giving up", Format: "java"},
		},
		{
			name: "lowercase level, empty message after the logger",
			line: `2024-05-01 12:00:00.123 trace [main] c.e.A -`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.123Z"), Service: "c.e.A", Level: schemas.LevelTrace, Format: "java", Labels: labels("thread", "main")},
		},
		{
			name: "malformed: impossible month",
			line: `2024-13-01 12:00:00 ERROR x.y.Z - bad month`,
			want: Fields{Service: "x.y.Z", Level: schemas.LevelError, Message: "bad month", Format: "java", ParseError: `java: unreadable timestamp "2024-13-01 12:00:00" in field "timestamp"`},
		},
		{
			name: "malformed: impossible time with thread",
			line: `2024-02-30 25:61:00.000 WARN [t] a.B - x`,
			want: Fields{Service: "a.B", Level: schemas.LevelWarn, Message: "x", Format: "java", ParseError: `java: unreadable timestamp "2024-02-30 25:61:00.000" in field "timestamp"`, Labels: labels("thread", "t")},
		},
	})
}

func TestJavaRejects(t *testing.T) {
	for _, line := range []string{
		`2024-05-01 12:00:00 hello world`,                 // no level
		`2024-05-01 12:00:00.123 [main unterminated INFO`, // thread never closed
		`2024-05-01`,
		`2024-05-01 12:00:00.123`,
		`12:00:00.123 [main] INFO c.e.A - time only`, // no date: not supported
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}
