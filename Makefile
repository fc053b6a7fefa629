# Thin wrapper: the real build is CMake, the real test runner CTest.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

HANDLERS = credbroker-list credbroker-delete credbroker-connect credbroker-callback credbroker-health credbroker-resolve credbroker-authorize
TOOLS = credbroker-devtoken
# The operator's tool (README "credbroker-admin"), built and installed with the handlers.
ADMIN = credbroker-admin
# The image's build stage narrows these (Dockerfile):
#   make build DEPS_FLAGS=--build-only TOOLS= CMAKE_ARGS=-DCREDBROKER_TESTS=OFF
DEPS_FLAGS ?=
CMAKE_ARGS ?=
# make test's second and third builds (docs/security-testing.md): the unit and integration tests
# under ASan + UBSan (GCC), and the libFuzzer targets (clang), each fuzzed FUZZ_SMOKE_SECONDS;
# `make fuzz` fuzzes each for FUZZ_SECONDS.
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_SECONDS ?= 300

.PHONY: deps configure build build-all run test test-asan test-fuzz fuzz fuzz-build container-check fresh-check lambda bench format clean

deps:
	@scripts/install-deps $(DEPS_FLAGS)

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null

# The executables (build/bin/), without the tests.
build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target $(HANDLERS) $(ADMIN) $(TOOLS)

# Everything, tests included.
build-all: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run-local

# Throughput, latency, memory and start-up against physical floors (bench/README.md); not part of
# `make test`. Writes bench/RESULTS.md and bench/ratios.svg.
bench: build-all
	@$(BUILD_DIR)/bin/credbroker-bench bench/RESULTS.md bench/ratios.svg

test: build-all
	@cd $(BUILD_DIR) && ctest --output-on-failure --no-tests=error -LE slow
	@$(MAKE) --no-print-directory test-asan test-fuzz

# The unit and integration tests (every front) built with AddressSanitizer + UBSan; a report from
# a test or from a handler a front spawned fails the run (tests/sanitizers/).
test-asan: deps
	@cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCREDBROKER_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_DIR) -j $(JOBS)
	@cd $(ASAN_DIR) && ctest --output-on-failure --no-tests=error -LE slow -L 'unit|integration'

test-fuzz: fuzz-build
	@cd $(FUZZ_DIR) && FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) \
	  ctest --output-on-failure --no-tests=error -L fuzz -j $(JOBS) --timeout 300

# Findings are written to $(FUZZ_DIR)/fuzz-work/<target>/crash-*, new inputs to .../corpus/.
fuzz: fuzz-build
	@cd $(FUZZ_DIR) && FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  ctest --output-on-failure --no-tests=error -L fuzz -j $(JOBS) --timeout $$(($(FUZZ_SECONDS) + 300))

fuzz-build: deps
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCREDBROKER_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS)

# Slow (10+ minutes; downloads from the Debian mirror): replays both stages of the Dockerfile in
# debootstrapped bookworm roots and serves from the result (docs/deploy/docker.md).
container-check: build-all
	@cd $(BUILD_DIR) && ctest --output-on-failure --no-tests=error -C slow -L slow

# Slow (an hour or more; downloads from the Debian mirror and npm): a new user's `make test` on a
# freshly debootstrapped bookworm with only make added, in a chroot (scripts/fresh-check; root).
# FRESH_CHECK_COMMAND runs another command there instead.
fresh-check:
	@scripts/fresh-check

# AWS Lambda packages (provided.al2023, this machine's architecture) for template.yaml:
# $(BUILD_DIR)/lambda/<function>/{bootstrap,lib/,config.json}, with LAMBDA_CONFIG as the bundled
# config (docs/deploy/lambda.md).
LAMBDA_CONFIG ?= infra/lambda/config.example.json
lambda: build
	@scripts/package-lambda $(BUILD_DIR) $(BUILD_DIR)/lambda $(LAMBDA_CONFIG)

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
