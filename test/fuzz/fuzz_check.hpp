#pragma once

// Property checks for the fuzz targets. A failed check prints what broke and
// aborts, which libFuzzer (and the corpus replay driver) reports as a crash
// with the input that caused it. Unlike assert(), it is never compiled out.

#include <cstdio>
#include <cstdlib>

#define KHG_FUZZ_CHECK(condition, ...)                                                      \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "fuzz property failed at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::fprintf(stderr, __VA_ARGS__);                                                    \
      std::fprintf(stderr, "\n");                                                           \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)
