# Compiler setup shared by every target: ccache when present, and one set of
# flags so that every target can reuse the one precompiled header.
find_program(FOCUS_CCACHE ccache)
if(FOCUS_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${FOCUS_CCACHE})
  message(STATUS "Focus: using ccache (${FOCUS_CCACHE})")
endif()

# The shared library is built with -fPIC; executables get the same flag so that
# the precompiled header (built once, with one set of flags) fits them all.
set(CMAKE_POSITION_INDEPENDENT_CODE OFF)
add_library(focus_flags INTERFACE)
target_compile_options(focus_flags INTERFACE -fPIC -Wall -Wextra -Wno-unused-parameter)

# Sanitizer and fuzzing builds (scripts/sanitize.sh, scripts/fuzz.sh): every
# target, the precompiled header included, gets the same instrumentation.
option(FOCUS_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(FOCUS_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only; implies FOCUS_SANITIZE)" OFF)
if(FOCUS_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FOCUS_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  set(FOCUS_SANITIZE ON CACHE BOOL "" FORCE)
  target_compile_options(focus_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(FOCUS_SANITIZE)
  # Any UB report is fatal, so that a test run fails on it. SentencePiece is
  # unavailable here: its plugin needs RTLD_DEEPBIND, which the sanitizer
  # runtimes refuse (tests tagged [sentencepiece]; tests/fuzz covers it).
  target_compile_options(focus_flags INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=undefined
                         -fno-omit-frame-pointer -g1)
  target_link_options(focus_flags INTERFACE -fsanitize=address,undefined)
  target_compile_definitions(focus_flags INTERFACE FOCUS_SANITIZE=1)
endif()
