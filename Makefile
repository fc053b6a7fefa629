# Thin wrapper: the real build is CMake, the real test runner CTest.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)

.PHONY: deps build run test format clean

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run-local

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --no-tests=error

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD_DIR)
