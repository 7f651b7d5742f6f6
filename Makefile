# glassbox: the README's two commands, and a few more.
#   make demo        install what is missing, build, scan the bundled example repository,
#                    probe a bundled sample agent, audit a bundled obfuscated sample
#   make test        install, build, run every test (CTest: unit, corpus, end-to-end), then make lint
#   make build       build/glassbox
#   make bench       every benchmark below, each against the tool a user would pick instead
#   make bench-scan  scan throughput against ripgrep and secretlint; detection quality (real text,
#                    hidden-Unicode cases, secret recall beside secretlint); time and memory on
#                    hostile input
#   make bench-gate  latency, requests/s and memory of gate against a direct connection
#   make bench-probe wall time of the default probe matrix, --jobs 1 vs 2
#   make bench-audit audit of a 12 MB bundle, a 250 MB executable and real agent packages
#   make lint        clang-tidy over src/ (.clang-tidy: names, bug-prone patterns, complexity)
#                    and clang-format over every C++ file (.clang-format: Google, 100 columns)
#   make fuzz-smoke  run each libFuzzer target briefly
#   make asan        the tests under AddressSanitizer and UndefinedBehaviorSanitizer

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build demo test lint bench bench-scan bench-gate bench-probe bench-audit fuzz fuzz-smoke asan clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/glassbox
	@bash examples/probe-demo.sh $(BUILD)/glassbox

test: build
	@bash scripts/bootstrap.sh --test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@bash scripts/lint.sh $(BUILD)

lint: build
	@bash scripts/lint.sh $(BUILD)

bench: bench-scan bench-gate bench-probe bench-audit

bench-scan: build
	@bash scripts/bootstrap.sh --bench
	@bash bench/scan_bench.sh $(BUILD)/glassbox
	@bash bench/detection_bench.sh $(BUILD)/glassbox
	@bash bench/hostile_bench.sh $(BUILD)/glassbox

bench-gate: build
	cmake --build $(BUILD) -j $(JOBS) --target gate_fake_upstream gate_latency
	@bash bench/gate_bench.sh $(BUILD)

bench-probe: build
	@bash bench/probe_bench.sh $(BUILD)/glassbox

bench-audit: build
	@bash scripts/bootstrap.sh --test
	cmake --build $(BUILD) -j $(JOBS) --target audit_unpack_bench
	@bash bench/audit_bench.sh $(BUILD)/glassbox

asan: bootstrap
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGLASSBOX_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

fuzz: bootstrap
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLASSBOX_FUZZ=ON -DGLASSBOX_TESTS=OFF \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
	cmake --build build-fuzz -j $(JOBS)

fuzz-smoke: fuzz
	@bash fuzz/smoke.sh build-fuzz

clean:
	rm -rf $(BUILD) build-asan build-fuzz
