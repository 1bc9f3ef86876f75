# Focus: the two front-door commands and a few helpers. Everything is built
# with CMake + Ninja in build/; `make help` lists the targets.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
RUN_DIR ?= runs/fashion-demo
DEMO_EPOCHS ?= 5
CMAKE_FLAGS ?=

.PHONY: help setup configure build demo test train-full bench clean

help:
	@echo "make demo        set up, build, train the default recipe on Fashion-MNIST ($(DEMO_EPOCHS) epochs), evaluate"
	@echo "make test        set up, build and run every test (unit, end-to-end, install)"
	@echo "make train-full  train the default recipe with its full schedule into runs/fashion"
	@echo "make bench       run the benchmarks and print their figures (see bench/run.sh and docs/BENCHMARKS.md)"
	@echo "make build       configure and build only"

setup:
	bash scripts/setup.sh

configure:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: setup build
	rm -rf $(RUN_DIR)
	$(BUILD_DIR)/apps/focus-train --recipe models/fashion-attncnn.json --out $(RUN_DIR) \
	  --set train.epochs=$(DEMO_EPOCHS)
	$(BUILD_DIR)/apps/focus-eval --run $(RUN_DIR)
	$(BUILD_DIR)/apps/focus-heatmap --run $(RUN_DIR) --limit 12
	@echo
	@echo "Report:   $(RUN_DIR)/report.html   (full schedule: make train-full)"
	@echo "Heatmaps: $(RUN_DIR)/heatmaps/index.html"

test: setup build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 1

train-full: setup build
	$(BUILD_DIR)/apps/focus-train --recipe models/fashion-attncnn.json --out runs/fashion
	$(BUILD_DIR)/apps/focus-eval --run runs/fashion

bench: setup build
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
