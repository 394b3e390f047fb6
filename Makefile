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
	$(GO) test -count=1 -run 'TestManoctlImageReproducible' ./adapters/ociimage

# Quick loop without the race detector.
test-short:
	$(GO) test -count=1 $(PKGS)

rabbitmq:
	@.ci/ensure-rabbitmq

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

# The main job on the embedded default: validate the bundled descriptors,
# plan and apply the demo manifest in a fresh state directory, list what
# runs, and plan again (--detailed-exitcode: 0 means nothing left to do).
DEMO_STATE := bin/demo-state
demo: build
	@rm -rf $(DEMO_STATE)
	./$(BIN) validate testdata/demo/descriptors
	./$(BIN) plan -f testdata/demo/manoctl.yaml --state-dir $(DEMO_STATE)
	./$(BIN) apply -f testdata/demo/manoctl.yaml --state-dir $(DEMO_STATE) --auto-approve
	./$(BIN) get services --state-dir $(DEMO_STATE)
	./$(BIN) get functions --state-dir $(DEMO_STATE)
	./$(BIN) plan -f testdata/demo/manoctl.yaml --state-dir $(DEMO_STATE) --detailed-exitcode

lint:
	.ci/lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt: $$unformatted"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist

# --- Packaging (adapters/ociimage, .ci/image, .ci/install-check) ---------

# Platforms of `make image` (comma-separated) and of `make release`.
PLATFORMS         ?= linux/amd64
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64

.PHONY: image release install-check

# The daemon's container image, built without a Docker daemon: OCI layout
# in dist/image, `docker load` tarball dist/manoctl-image.tar (one platform),
# summary dist/image.json. Reproducible: timestamps come from
# SOURCE_DATE_EPOCH (default 1970-01-01), so running it twice prints the
# same digest. .ci/image/Dockerfile describes the same image for Docker.
image:
	$(GO) run ./.ci/image -version '$(VERSION)' -commit '$(COMMIT)' -platforms '$(PLATFORMS)' \
		-o dist/image -tarball dist/manoctl-image.tar -info dist/image.json

# Static binaries for linux and darwin on amd64 and arm64 in dist/release,
# with SHA256SUMS. Reproducible for a given toolchain (-trimpath,
# -buildvcs=false, -buildid=). .ci/goreleaser.yaml is an optional alternative.
release:
	@rm -rf dist/release && mkdir -p dist/release
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/release/manoctl_$(VERSION)_$${os}_$${arch}; \
		echo "release: $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=false \
			-ldflags '$(LDFLAGS) -buildid=' -o $$out ./cmd/manoctl; \
	done
	@cd dist/release && if command -v sha256sum >/dev/null; then sha256sum manoctl_*; \
		else shasum -a 256 manoctl_*; fi > SHA256SUMS && cat SHA256SUMS

# Proves `go install github.com/manoctl/manoctl/cmd/manoctl@latest` works
# for this tree (CGO_ENABLED=0, no replace directives), offline.
install-check:
	$(GO) run ./.ci/install-check
