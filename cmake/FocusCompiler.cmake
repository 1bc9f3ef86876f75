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
