# signet — the two commands a newcomer needs: `make run` and `make check`.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan run stop check check-build check-asan lint analyze \
        bench fuzz clean install

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON \
	  -DSIGNET_SANDBOX=OFF >/dev/null

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	@bash scripts/run.sh

stop:
	@bash scripts/stop.sh

# Everything CI runs: lint, static analysis, the full suite in the hardened
# build and again under ASan+UBSan.
check: deps lint build build-asan analyze
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

lint:
	@bash scripts/lint.sh
	@bash scripts/check-readme.sh

analyze: build
	@bash scripts/analyze.sh $(BUILD)

bench:
	@bash bench/run.sh

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DSIGNET_FUZZ=ON -DBUILD_TESTING=OFF -DSIGNET_SANDBOX=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	@bash scripts/fuzz.sh build-fuzz $${FUZZ_SECONDS:-30}

install: build
	cmake --install $(BUILD) --prefix $${PREFIX:-/usr/local}

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz build-tsan
