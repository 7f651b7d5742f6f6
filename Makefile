# glassbox: the README's two commands, and a few more.
#   make demo        install what is missing, build, scan the bundled example repository
#   make test        install, build, run every test (CTest: unit, corpus, end-to-end)
#   make build       build/glassbox
#   make bench       throughput against ripgrep and secretlint (bench/)
#   make fuzz-smoke  run each libFuzzer target briefly
#   make asan        the tests under AddressSanitizer and UndefinedBehaviorSanitizer

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build demo test bench fuzz fuzz-smoke asan clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: bootstrap $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)/glassbox

test: build
	@bash scripts/bootstrap.sh --test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bash scripts/bootstrap.sh --bench
	@bash bench/scan_bench.sh $(BUILD)/glassbox

asan: bootstrap
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGLASSBOX_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

fuzz: bootstrap
	CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLASSBOX_FUZZ=ON -DGLASSBOX_TESTS=OFF
	cmake --build build-fuzz -j $(JOBS)

fuzz-smoke: fuzz
	@bash fuzz/smoke.sh build-fuzz

clean:
	rm -rf $(BUILD) build-asan build-fuzz
