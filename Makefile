# Thin wrapper around CMake: the README's two commands.
#   make demo   install what is missing, build, run the demo pipelines on the simulator and carry
#               them along their supply-chain graphs to evidence packs for a smelter and a carmaker
#   make test   install what is missing, build (warnings are errors) and run every test, also
#               under AddressSanitizer + UndefinedBehaviorSanitizer (with a short fuzzing run)
#   make fuzz   long libFuzzer runs of every fuzz target; make tsan: ThreadSanitizer
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
DEMO_OUT ?= out/demo
FUZZ_SMOKE_SECONDS ?= 5

.PHONY: all deps build build-asan demo test test-release test-asan bench fuzz tsan clean format

all: build

deps:
	@sh tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMW_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O2" \
	  -DMW_WERROR=ON -DMW_SANITIZE=ON \
	  -DMW_FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	$(BUILD)/minewatch run pipelines/demo.yaml -o $(DEMO_OUT)
	$(BUILD)/minewatch run pipelines/odisha.yaml -o out/odisha
	$(BUILD)/minewatch graph pipelines/graphs/nalco_odisha_2019.json --indicators out/odisha/indicators.csv \
	  --period 2019 --exposure --evidence angul -o out/odisha-graph
	$(BUILD)/minewatch graph pipelines/graphs/battery_chains_demo.json --indicators $(DEMO_OUT)/indicators.csv \
	  --period 2024 --exposure --evidence nissan-sunderland -o out/battery-graph
	@if [ -d ../shared/data/landsat8_c2l2_brumadinho_2019 ]; then \
	  $(BUILD)/minewatch run pipelines/brumadinho.yaml -o out/brumadinho; \
	else echo "make demo: ../shared/data not here, the Brumadinho real-scene demo is skipped"; fi

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

test: test-release test-asan

bench: build
	$(BUILD)/bench_ingest out/bench/ingest
	$(BUILD)/bench_ndvi out/bench/ndvi $(BUILD)/minewatch
	$(BUILD)/bench_kernels out/bench/kernels bench/nanmedian.py ../shared/data tests
	bench/change_scores.sh ../shared/data $(BUILD) out/bench/change
	bench/treecover.sh $(BUILD) out/bench/treecover
	bench/graph.sh $(BUILD) out/bench/graph
	/usr/bin/python3 bench/scale.py $(BUILD) out/bench/scale
	/usr/bin/python3 bench/pipeline.py $(BUILD) out/bench/pipeline

# Long fuzzing runs (libFuzzer, clang): FUZZ_SECONDS per target, default 600.
fuzz: deps
	tools/fuzz.sh

# The threaded kernels under ThreadSanitizer (clang, LLVM OpenMP + Archer); run before closing.
tsan: deps
	tools/tsan.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz build-tsan out
