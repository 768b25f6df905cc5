# logstream's front door. `make demo` and `make test` work on a fresh Debian
# machine with Go: whatever else they need, they install themselves.

GO        ?= go
BIN       := bin
TOOLS     := $(CURDIR)/.tools/bin
PKGS      := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
STATICCHECK_VERSION ?= v0.8.2
VERSITYGW_VERSION   ?= v1.8.0
FUZZTIME  ?= 10s
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build test test-race lint fuzz bench demo deps-test deps-deploy schemas-check tools clean image deploy-check deploy-rolling deploy-topics

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/logstream ./cmd/logstream

## image: the container image (deploy/Dockerfile: static binary on
## scratch, non-root). Needs Docker with BuildKit; IMAGE names the tag.
IMAGE     ?= logstream:$(VERSION)
image:
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE) .

## deps-test: Debian packages the tests use: kcat (Kafka interop), Apache
## Avro's Python implementation and the Confluent Python client (schema
## resolution and registry interop), Apache Avro Java and a JDK (fingerprints
## and single-object decoding, codecs/oracle_java_test.go), Prometheus
## Alertmanager (paging; the tests run their own instance, not the package's
## service).
DEBS_TEST := kcat python3-avro python3-confluent-kafka python3-requests libavro-java default-jdk-headless prometheus-alertmanager
deps-test:
	@missing=$$(for p in $(DEBS_TEST); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for the interop tests:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## versitygw: a real S3-compatible server (built from the Go module proxy,
## about 2 minutes on 2 cores) that the S3 sink's integration tests start
## on loopback.
$(TOOLS)/versitygw:
	GOBIN=$(TOOLS) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

## schemas-check: the compatibility gate over schemas/ (run by make test).
schemas-check:
	$(GO) run ./cmd/logstream schemas check --schemas-dir schemas

## deps-deploy: promtool (Debian's prometheus package), for the alert rules.
deps-deploy:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing Debian's prometheus package for promtool"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }

## deploy-check: builds every Kustomize overlay of deploy/ and checks each
## object strictly against its Kubernetes type and the manifests against
## the binary (commands, flags, settings, stages, consumer groups), the
## topology (KafkaTopics, scaling) and promtool (the alert rules); then the
## checker's own tests. deploy/ is a module of its own, so the binary never
## links Kubernetes or Kustomize.
deploy-check: build deps-deploy
	cd deploy && $(GO) run ./check -logstream $(CURDIR)/$(BIN)/logstream
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 -short ./...

## deploy-rolling: the dev overlay's stage Deployments as local processes,
## two pods each, on the embedded broker, all rolled with SIGTERM while
## lines flow in; every event must come out exactly once (about a minute).
deploy-rolling:
	cd deploy && $(GO) test -count=1 -run '^TestRollingRestart$$' -timeout 10m ./check

## deploy-topics: regenerates the prod overlay's KafkaTopics from the
## settings it deploys (after a change of partitions or replication).
deploy-topics: build
	$(BIN)/logstream topology describe --format strimzi --config deploy/base/config.yaml > deploy/overlays/prod/kafkatopics.yaml

## test: every test, including the embedded-broker integration and kcat
## interop tests, the deployment's manifests (deploy-check) and a rolling
## restart of its stage Deployments (deploy-rolling).
## CI=1: deps-test installed the interop tools, so an oracle test that
## finds one missing fails instead of skipping.
test: deps-test $(TOOLS)/versitygw schemas-check deploy-check deploy-rolling
	$(GO) vet $(PKGS)
	CI=$${CI:-1} $(GO) test -count=1 -timeout 12m $(PKGS)

test-race: deps-test $(TOOLS)/versitygw
	$(GO) test -count=1 -race -timeout 20m $(PKGS)

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

tools: $(TOOLS)/staticcheck $(TOOLS)/versitygw

lint: $(TOOLS)/staticcheck
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(TOOLS)/staticcheck $(PKGS)
	cd deploy && $(GO) vet ./... && $(TOOLS)/staticcheck ./...

## fuzz: every fuzz target for FUZZTIME (short by default).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## bench: the whole pipeline and the peer job (parse+dedupe+errorrate) on 1M lines against a franz-go passthrough chain, raw passthrough vs parse stage on the embedded broker, resolved vs plain decode, plus codec benchmarks.
bench: build
	$(GO) run ./benchmarks/cmd/pipebench -full -records 1000000 -bin $(BIN)/logstream
	$(GO) run ./benchmarks/cmd/pipebench -full -records 1000000 -bin $(BIN)/logstream -stages parse,dedupe,errorrate
	$(GO) run ./benchmarks/cmd/pipebench
	$(GO) run ./benchmarks/cmd/statebench -n 100000 -ids 200000 -sweep 5s
	$(GO) run ./benchmarks/cmd/statebench -only errorrate,alerts -er-n 200000 -alert-rate 20000 -alert-intervals 1s
	$(GO) run ./benchmarks/cmd/sinkbench -records 100000
	$(GO) run ./benchmarks/cmd/codecbench
	$(GO) test -run '^$$' -bench . -benchmem ./codecs/
	$(GO) test -run '^$$' -bench 'ParseLine' -benchmem ./processors/parse/

demo: build
	$(BIN)/logstream demo --summary-json $(BIN)/demo-summary.json

clean:
	rm -rf $(BIN) .tools
