#pragma once
// FOCUS_VECTOR_CLONES before a function with a hot loop: GCC compiles it for
// AVX-512, AVX2 and the x86-64 baseline, and the loader picks the best the CPU
// has (function multi-versioning), so the loop is vectorised to the machine's
// width in a portable binary. Empty for other compilers and targets. Private
// to lib/src.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FOCUS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FOCUS_VECTOR_CLONES
#endif
