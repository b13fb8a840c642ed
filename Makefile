# Lucent: thin wrappers around CMake. `make run` and `make test` install what is missing first
# (`make run` only what building needs; the test suite's npm packages and browser only for
# `make test`).
BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps deps-build build run install test test-unit test-integration bench format \
	format-check check-layers clean

all: build

deps:
	@scripts/deps.sh

deps-build:
	@scripts/deps.sh --build-only

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUCENT_TESTS=OFF -DLUCENT_WERROR=ON \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# With no ARGS the server runs the development config (printed at start-up).
run: deps-build build
	./$(BUILD)/lucent $(ARGS)

# $(DESTDIR)$(PREFIX)/bin/lucent and $(DESTDIR)$(PREFIX)/share/lucent/lua/lucent/*.lua
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

$(TEST_BUILD)/lucent: FORCE
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLUCENT_SANITIZE=ON -DLUCENT_WERROR=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

test: deps format-check check-layers $(TEST_BUILD)/lucent
	@$(MAKE) --no-print-directory test-unit test-integration test-redis-engine

test-unit:
	ctest --test-dir $(TEST_BUILD) --output-on-failure

test-integration:
	cd tests/integration && LUCENT_BIN=$(CURDIR)/$(TEST_BUILD)/lucent \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		node --test --test-concurrency=1

# Existing integration test files again with every server on the Redis engine (one shared
# redis-server, a key prefix per server); part of `make test`. REDIS_ENGINE_FILES=... narrows it.
REDIS_ENGINE_FILES ?= channels.test.js recovery.test.js presence.test.js serverside.test.js exclusion.test.js
test-redis-engine: $(TEST_BUILD)/lucent
	cd tests/integration && LUCENT_TEST_ENGINE=redis LUCENT_BIN=$(CURDIR)/$(TEST_BUILD)/lucent \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		node --test --test-concurrency=1 $(REDIS_ENGINE_FILES)

bench: deps build
	@scripts/bench.sh $(ARGS)

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]')

# The repository's .clang-format is the style: a file that differs fails the test run.
format-check:
	@clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]')

# Includes follow the one-way layers (main -> api, transport -> core -> hooks, engine -> proto,
# auth, config -> util): a header of a higher layer fails the test run.
check-layers:
	@scripts/check_layers.sh

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

FORCE:
