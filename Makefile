# manoctl Makefile. The README's two set-up commands are `make demo` and
# `make test`; both work on a fresh Debian machine with Go.

GO       ?= go
BIN      := bin/manoctl
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...

.PHONY: all build test test-short bench demo lint fmt vet rabbitmq clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/manoctl

# Every test, AMQP ones included: RabbitMQ is installed and started first.
# -count=1 because go test would otherwise cache broker-backed results.
test: rabbitmq
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Quick loop without the race detector.
test-short:
	$(GO) test -count=1 $(PKGS)

rabbitmq:
	@.ci/ensure-rabbitmq

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

demo: build
	@./$(BIN) validate testdata/demo/descriptors

lint: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: $$unformatted"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
