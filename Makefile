# Lucent: thin wrappers around CMake. `make run` and `make test` install what is missing first
# (`make run` only what building needs; the test suite's npm packages and browser only for
# `make test`).
BUILD      ?= build
TEST_BUILD ?= build-test
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps deps-build build run install test test-unit test-integration test-tsan \
	test-variants test-redis-engine bench bench-one format format-check check check-layers fuzz clean

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
REDIS_ENGINE_FILES ?= channels.test.js recovery.test.js presence.test.js serverside.test.js exclusion.test.js \
	pusher.test.js delta.test.js map.test.js map_extras.test.js
test-redis-engine: $(TEST_BUILD)/lucent
	cd tests/integration && LUCENT_TEST_ENGINE=redis LUCENT_BIN=$(CURDIR)/$(TEST_BUILD)/lucent \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		node --test --test-concurrency=1 $(REDIS_ENGINE_FILES)

# ThreadSanitizer build of the server, and the integration tests that run several workers, each
# with 4 workers (LUCENT_TEST_WORKERS); a race report aborts the server, which fails the test.
# (fanout.test.js is left out: 1,000 connections under TSan's slowdown outlast its timeouts.)
TSAN_TESTS ?= pubsub.test.js exclusion.test.js presence.test.js api_full.test.js \
	write_delay.test.js recovery.test.js session.test.js pusher.test.js map.test.js map_extras.test.js \
	shared_poll.test.js shared_poll_publish.test.js
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLUCENT_TSAN=ON -DLUCENT_TESTS=OFF \
		-DLUCENT_BENCH=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target lucent
	cd tests/integration && LUCENT_BIN=$(CURDIR)/$(TSAN_BUILD)/lucent LUCENT_TEST_WORKERS=4 \
		TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		node --test --test-concurrency=1 $(TSAN_TESTS)

# The whole integration suite with client.write_delay on, then with 1 and with 4 workers.
test-variants: $(TEST_BUILD)/lucent
	LUCENT_TEST_WRITE_DELAY=20ms $(MAKE) --no-print-directory test-integration
	LUCENT_TEST_WORKERS=1 $(MAKE) --no-print-directory test-integration
	LUCENT_TEST_WORKERS=4 $(MAKE) --no-print-directory test-integration

# `make bench` compares Lucent with Nchan (docs/BENCHMARKS.md); `make bench-one` is the single
# fan-out run of scripts/bench.sh.
bench: deps-build build
	@scripts/bench-compare.sh $(ARGS)

bench-one: deps-build build
	@scripts/bench.sh $(ARGS)

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.[ch]')

# The repository's .clang-format is the style: a file that differs fails the test run.
format-check:
	@clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'tests/unit/*.[ch]' 'tests/fuzz/*.[ch]')

# clang-format and clang-tidy (.clang-tidy); see CONTRIBUTING.md.
check: deps
	@scripts/check.sh

# libFuzzer targets for SECONDS each (ARGS=600); see tests/fuzz/README.md.
fuzz: deps
	@scripts/fuzz.sh $(or $(ARGS),60)

# Includes follow the one-way layers (main -> api, transport -> core -> hooks, engine -> proto,
# auth, config -> util): a header of a higher layer fails the test run.
check-layers:
	@scripts/check_layers.sh

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

FORCE:
