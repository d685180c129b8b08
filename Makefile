# Thin wrapper: the real work is in scripts/ and CMake.
#   make demo    the main job on the embedded local control plane
#   make test    every test (unit, sanitizer unit, integration, e2e), after
#                the thread-safety build (build-tsa)
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
TSA_BUILD ?= build-tsa
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all setup build build-asan build-tsa build-fuzz fuzz tools cluster-up cluster-down test test-unit test-asan demo format clean

all: build

setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -G Ninja >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DSRERACHA_SANITIZE=ON -DSRERACHA_UNIT_ONLY=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The locking rules (GUARDED_BY, REQUIRES, EXCLUDES: operator/src/kube/mutex.h)
# checked by clang's -Wthread-safety, an error like every warning in our code:
# the operator and the example controller, not the tests. Build type None: no
# optimisation, no debug info, only the compiler's verdict matters (cold:
# 1.5 CPU minutes, half of what -O2 -g takes).
build-tsa: setup
	@cmake -S . -B $(TSA_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None >/dev/null
	@cmake --build $(TSA_BUILD) -j $(JOBS) --target sreracha-operator configmap-mirror

# libFuzzer targets (fuzz/), clang with ASan+UBSan; `make fuzz` runs each for
# FUZZ_SECONDS (30) seconds, as make test does.
FUZZ_SECONDS ?= 30
build-fuzz: setup
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None \
	  -DCMAKE_CXX_FLAGS="-O1 -g" -DSRERACHA_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: build-fuzz
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

tools: setup
	@scripts/tools.sh build

cluster-up: tools
	@scripts/local-cluster.sh up

cluster-down:
	@scripts/local-cluster.sh down

test-unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure $(CTEST_ARGS)

test-asan: build-asan
	@cd $(ASAN_BUILD) && ctest -L unit --output-on-failure $(CTEST_ARGS)

test: build build-asan build-tsa build-fuzz tools
	@scripts/test.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

demo: build tools
	@scripts/demo.sh $(BUILD)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD) $(TSA_BUILD)

# The operator image (Dockerfile; needs a Docker engine). IMAGE=name:tag to rename.
IMAGE ?= sreracha-operator:dev
.PHONY: image
image:
	docker build -t $(IMAGE) .
