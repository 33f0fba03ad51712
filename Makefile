# signet — the two commands a newcomer needs: `make run` and `make check`.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
RELEASE_BUILD ?= build-release
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Three build trees:
#   $(BUILD)          hardened gcc RelWithDebInfo with the test hooks
#                     (SIGNET_TESTING=ON): the suite runs here
#   $(ASAN_BUILD)     clang ASan+UBSan with the test hooks: the suite again
#   $(RELEASE_BUILD)  hardened RelWithDebInfo without them (SIGNET_TESTING=OFF,
#                     no tests): what `make run` and `make install` use
TESTING_FLAGS := -DSIGNET_TESTING=ON
RELEASE_FLAGS := -DSIGNET_TESTING=OFF -DBUILD_TESTING=OFF

.PHONY: all deps build build-asan build-release run stop check check-build check-asan lint \
        analyze bench fuzz clean install

all: build

deps:
	@bash scripts/deps.sh

# A tree configured before SIGNET_TESTING existed is configured again.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(TESTING_FLAGS) $(CMAKE_FLAGS) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	@grep -q '^SIGNET_TESTING:BOOL=ON' $(BUILD)/CMakeCache.txt || \
	  cmake -S . -B $(BUILD) $(TESTING_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSIGNET_SANITIZE=ON \
	  -DSIGNET_SANDBOX=OFF $(TESTING_FLAGS) >/dev/null

build-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	@grep -q '^SIGNET_TESTING:BOOL=ON' $(ASAN_BUILD)/CMakeCache.txt || \
	  cmake -S . -B $(ASAN_BUILD) $(TESTING_FLAGS) >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

$(RELEASE_BUILD)/CMakeCache.txt:
	cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(RELEASE_FLAGS) \
	  $(CMAKE_FLAGS) >/dev/null

build-release: deps $(RELEASE_BUILD)/CMakeCache.txt
	cmake --build $(RELEASE_BUILD) -j $(JOBS)

run: build-release
	@RELEASE_BUILD=$(RELEASE_BUILD) bash scripts/run.sh

stop:
	@bash scripts/stop.sh

# Everything CI runs: lint, static analysis, the full suite in the hardened
# build and again under ASan+UBSan (both with the test hooks), and the release
# build, which tests/integration/test_release_no_hooks.sh inspects (it fails
# when SIGNET_RELEASE_DIR names no release build).
check: deps lint build build-asan build-release analyze
	cd $(BUILD) && SIGNET_RELEASE_DIR=$(CURDIR)/$(RELEASE_BUILD) ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && SIGNET_RELEASE_DIR=$(CURDIR)/$(RELEASE_BUILD) \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

lint:
	@bash scripts/lint.sh
	@bash scripts/layers.sh
	@bash scripts/check-readme.sh

analyze: build
	@bash scripts/analyze.sh $(BUILD)

bench:
	@bash bench/run.sh

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DSIGNET_FUZZ=ON -DBUILD_TESTING=OFF -DSIGNET_SANDBOX=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	@bash scripts/fuzz.sh build-fuzz $${FUZZ_SECONDS:-30}

install: build-release
	cmake --install $(RELEASE_BUILD) --prefix $${PREFIX:-/usr/local}

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(RELEASE_BUILD) build-fuzz build-tsan
