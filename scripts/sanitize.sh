#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of Focus with clang, and
# the unit tests run under it. The same build holds the libFuzzer targets
# (scripts/fuzz.sh), since both need the same instrumented library.
#
#   bash scripts/sanitize.sh              build (build-sanitize/) and run the unit tests
#   bash scripts/sanitize.sh --build-only build only (used by scripts/fuzz.sh)
#
# A clean build takes about 12 minutes on 2 cores; the unit tests about 4.
# Any ASan or UBSan report fails the run. Left out: the [sentencepiece] tests
# (the plugin needs RTLD_DEEPBIND, which sanitizer runtimes refuse; the
# fuzz_sentencepiece target covers that code under ASan+UBSan instead).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-sanitize}

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "sanitize.sh: installing clang (and its libFuzzer runtime)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y --no-install-recommends clang libclang-rt-dev; } ||
    $SUDO apt-get install -y --no-install-recommends clang "libclang-rt-$(clang++ --version | sed -n 's/.*version \([0-9]*\).*/\1/p')-dev"
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DFOCUS_FUZZ=ON -DFOCUS_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "${BUILD_JOBS:-$(nproc)}" --target ${SANITIZE_TARGETS:-focus-tests fuzz-targets}

[ "${1:-}" = "--build-only" ] && exit 0

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=2
cd "$BUILD_DIR/tests"
log=$(mktemp)
set +e
./focus-tests "~[sentencepiece]" 2>&1 | tee "$log" | grep -E "^(All tests passed|test cases:|=+$|==[0-9]+==|.*runtime error)" 
status=${PIPESTATUS[0]}
set -e
if grep -qE "==[0-9]+==ERROR|runtime error:" "$log"; then
  echo "sanitize.sh: sanitizer report (full log: $log)"; exit 1
fi
[ "$status" -eq 0 ] || { echo "sanitize.sh: unit tests failed under the sanitizers (full log: $log)"; exit "$status"; }
echo "sanitize.sh: unit tests passed under ASan+UBSan, no sanitizer report (log: $log)"
