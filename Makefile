# gossipod — see README.md. GNU make.
#
#   make build         bin/gossipod (cgo on: libcontainer needs it)
#   make test          vet, gofmt check, deploy checks, go test -race (e2e needs root), fuzz
#   make bench         every package's Go benchmarks, once each, figures printed
#   make chaos         a fault run: 5 hosts, nemesis and clients (root; DURATION, SEED)
#   make fuzz          every Go fuzz target for FUZZTIME each (part of make test)
#   make soak          CYCLES (1000) create/delete cycles of a pod on one agent; leaks fail (root)
#   make demo          a 3-host local cluster in network namespaces (root; sudo if needed)
#   make demo-stop     stop it and remove everything it created
#   make check-deploy  static checks of scripts/, deploy/, .ci/run and the Vagrantfile
#   make vagrant-box   build the offline Debian 12 libvirt box (root; once per machine)
#   make test-vagrant  a real 3-VM Vagrant cluster under QEMU: up, checks, halt, destroy
#   make clean
#
# Users bring the Vagrant cluster up with `make build && vagrant up` (public box
# debian/bookworm64); vagrant-box and test-vagrant use its environment overrides.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Go from PATH, else the usual tarball location.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
export CGO_ENABLED := 1
# Build tags of the binary and of the tests: osusergo,netgo keep the static binary free of
# glibc's NSS; seccomp builds libcontainer's seccomp support against libseccomp (Debian's
# libseccomp-dev, static library included; scripts/install-deps.sh installs it), without
# which no container gets a seccomp profile. The test binaries need it too: they are
# libcontainer's re-exec (runc init), which installs the filter.
TAGS := osusergo,netgo,seccomp

# `-c safe.directory=*`: reading the version must not fail when root builds a tree that
# another user owns (sudo make ...); the repository is only read.
VERSION ?= $(shell git -c safe.directory='*' describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# When git refuses the tree (owned by someone else), `go build` cannot stamp VCS data and
# fails; the version above is embedded anyway.
ifneq ($(shell git rev-parse --git-dir >/dev/null 2>&1 && echo ok),ok)
export GOFLAGS := $(strip $(GOFLAGS) -buildvcs=false)
endif

TEST_TIMEOUT ?= 30m
BENCH ?= .
BENCHTIME ?= 1x

.PHONY: bench-placement build test vet fmt-check go-test bench chaos demo demo-stop check-deploy clean

build:
	$(GO) build -tags $(TAGS) -ldflags '-linkmode external -extldflags "-static" $(LDFLAGS)' -o bin/gossipod ./cmd/gossipod

test: vet fmt-check check-deploy go-test fuzz

# Vets what is shipped (the tags), and checks that the tree still builds without them.
vet:
	$(GO) vet -tags $(TAGS) ./...
	$(GO) build ./...

# Lists the files gofmt would change and fails if there are any.
fmt-check:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './vendor/*' \
		-not -path '*/testdata/*' -not -path './.vagrant/*' -print0 | xargs -0r gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi; \
	echo "gofmt: ok"

# The e2e package needs root for network namespaces; without root it skips, except under
# CI=true where it fails instead.
go-test:
	$(GO) test -tags $(TAGS) -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	@echo "== the fault-run checker against deliberately broken state machines (tags chaos_broken_*)"
	$(GO) test -tags $(TAGS),chaos_broken_overcommit -count=1 -timeout 10m ./e2e/chaos/
	$(GO) test -tags $(TAGS),chaos_broken_rebind -count=1 -timeout 10m ./e2e/chaos/

# Every Go fuzz target, FUZZTIME each (8 s: under 2 minutes in all, builds included): the API's
# decoders (manifests, request bodies in JSON, YAML and protobuf, PATCHed objects, delete
# options, selectors, the three patch types) and the FSM's command decoding and Apply.
# `go test` alone already runs each target's seeds and testdata/fuzz (earlier crashers);
# a new crasher is written to the package's testdata/fuzz/<target>/: commit it with the
# fix. -fuzzminimizetime keeps the minimisation of new inputs from eating the budget.
FUZZTIME ?= 8s
FUZZ_TARGETS := \
	./api:FuzzDecodeManifests ./api:FuzzDecodeInto \
	./apiserver:FuzzRequestBody ./apiserver:FuzzListSelector \
	./apiserver/patch:FuzzApply ./apiserver/protobody:FuzzToJSON \
	./consensus:FuzzFSMApply ./consensus:FuzzFSMCommand
.PHONY: fuzz
fuzz:
	@all=$$(grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | grep -v '^./.git/' | \
		sed -E 's|^(.*)/[^/]*_test\.go:func |\1:|' | sort); \
	missing=$$(comm -23 <(echo "$$all") <(printf '%s\n' $(FUZZ_TARGETS) | sort)); \
	if [ -n "$$missing" ]; then echo "fuzz: targets missing from FUZZ_TARGETS in the Makefile:"; echo "$$missing"; exit 1; fi
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "fuzz: $$name ($$pkg) for $(FUZZTIME)"; \
		rc=0; out=$$($(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s "$$pkg" 2>&1) || rc=$$?; \
		echo "$$out" | { grep -v '^fuzz: elapsed' || true; }; \
		if grep -q 'no fuzz tests to fuzz' <<<"$$out"; then echo "fuzz: $$pkg has no fuzz target $$name"; exit 1; fi; \
		[ $$rc -eq 0 ] || exit $$rc; \
	done

# The pod churn soak (e2e/soak_test.go): CYCLES create/delete cycles of a 3-container
# pod with an emptyDir and a hostPort on one real agent, then the agent's RSS, fds and
# goroutines and the host's mounts, cgroups, veths, IP leases and firewall rules must be
# back to their level after warm-up, and Raft's data dir bounded. One figure per line,
# "soak: <what> before=<n> after=<n>". Needs root, like the e2e tests.
CYCLES ?= 1000
SOAK_TIMEOUT ?= 6h
.PHONY: soak
soak:
	CYCLES=$(CYCLES) $(GO) test -tags $(TAGS) -count=1 -timeout $(SOAK_TIMEOUT) -run '^TestPodChurnSoak$$' -v ./e2e/

# -run '^$$' skips the tests; each benchmark runs $(BENCHTIME) and prints its figures
# (ns/op and the metrics it reports). Recorded results: BENCHMARKS.md.
bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem -count 1 -timeout $(TEST_TIMEOUT) ./...

# End-to-end binding throughput through Raft: 3 real agents in one process, 1,000
# simulated nodes, 10,000 pods. The last line is placement_pods_per_sec=<n>.
bench-placement:
	@out=$$($(GO) test -tags $(TAGS) -run '^$$' -bench 'BenchmarkBindingThroughput' -benchtime 1x -count 1 -timeout 20m ./agent/ 2>&1) || { echo "$$out"; exit 1; }; \
	echo "$$out" | grep -v '^placement_pods_per_sec='; \
	echo "$$out" | grep '^placement_pods_per_sec=' | tail -1

# A fault run in the spirit of Jepsen (issue 15, e2e.TestChaos): 5 hosts in network
# namespaces with real agents and pods, clients writing Pods and Deployments through
# random agents while a nemesis kills, pauses, partitions and degrades them, for
# DURATION (a Go duration, default 3m); then everything is healed and checked. SEED
# (default: drawn and printed) replays a run's fault schedule; CHAOS_OUT keeps its
# records (history, faults, final state, Raft logs). Needs root. The summary
# `chaos: seed=S ops=N acked=N failed=N unknown=N faults=N violations=N` is printed
# last; the exit status is non-zero on any violation.
DURATION ?= 3m
SEED ?=
CHAOS_TIMEOUT ?= 90m
chaos:
	@out=$$(mktemp); status=0; \
	CHAOS=1 DURATION='$(DURATION)' SEED='$(SEED)' $(GO) test -tags $(TAGS) -count=1 -timeout $(CHAOS_TIMEOUT) \
		-run '^TestChaos$$' -v ./e2e 2>&1 | tee "$$out" || status=$$?; \
	grep '^chaos: seed=.* ops=' "$$out" | tail -1 || echo "chaos: the run ended before its summary (status $$status)"; \
	rm -f "$$out"; exit $$status

# The test image, localhost/busybox:latest, as a docker archive (`gossipod image load`
# takes it). Built in Go from Debian's busybox-static (apt-get install busybox-static);
# rebuilt when its generator or the host's busybox changes.
.PHONY: testimage
testimage: build/images/busybox.tar

build/images/busybox.tar: $(wildcard internal/testimage/*.go internal/testimage/cmd/*.go) $(wildcard /bin/busybox)
	$(GO) run ./internal/testimage/cmd -o $@

demo:
	scripts/demo.sh start

demo-stop:
	scripts/demo.sh stop

check-deploy:
	bash scripts/check-deploy.sh

# Both need root (they re-run themselves with sudo) and install what is missing (apt).
vagrant-box:
	bash scripts/vagrant-box.sh

# Builds bin/gossipod and the test image itself (make build testimage), then brings up
# GOSSIPOD_VMS=3 VMs and checks the cluster; leaves nothing behind, also on failure.
test-vagrant:
	bash scripts/vagrant-test.sh

# /gossipod is what a bare `go build ./cmd/gossipod` leaves at the top.
clean:
	rm -rf bin build gossipod
