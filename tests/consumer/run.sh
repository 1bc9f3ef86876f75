#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs the
# consumer project against it with find_package(Focus).
set -euo pipefail
build_dir=$1 consumer_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/focus-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/lib/cmake/Focus/FocusConfig.cmake" || { echo "FocusConfig.cmake not installed"; exit 1; }
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$consumer_dir" -B "$work/build" "${generator[@]}" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
LD_LIBRARY_PATH="$work/prefix/lib" "$work/build/consumer"
