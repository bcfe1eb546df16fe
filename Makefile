# The README's two commands: `make run` and `make test`. Both set the machine up first.
.PHONY: deps build run test bench format check-format check-layering clean

JOBS ?= $(shell nproc)

deps:
	@scripts/install-deps

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	build/waggle serve $(ARGS)

test: deps check-format check-layering
	cmake --preset debug >/dev/null
	cmake --build --preset debug -j $(JOBS)
	ctest --preset debug

bench: build
	scripts/run-benchmarks

format:
	@git ls-files --cached --others --exclude-standard '*.cc' '*.h' | xargs clang-format -i

check-format:
	@scripts/check-format

check-layering:
	@scripts/check-layering

clean:
	rm -rf build build-debug
