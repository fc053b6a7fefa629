# Thin wrapper: the real build is CMake, the real test runner CTest.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

HANDLERS = credbroker-list credbroker-delete credbroker-connect credbroker-callback credbroker-health
TOOLS = credbroker-devtoken

.PHONY: deps configure build build-all run test format clean

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

# The executables (build/bin/), without the tests.
build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target $(HANDLERS) $(TOOLS)

# Everything, tests included.
build-all: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run-local

test: build-all
	@cd $(BUILD_DIR) && ctest --output-on-failure --no-tests=error

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
