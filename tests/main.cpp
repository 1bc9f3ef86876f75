// Catch2's main, with the library's logging kept quiet (errors only) and
// image decoding limited as in the apps.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include "focus/util/log.h"
#include "focus/util/runtime.h"

int main(int argc, char** argv) {
  focus::util::log()->set_level(spdlog::level::err);
  focus::util::limit_image_decoding();  // as the apps do, before any image is decoded
  return Catch::Session().run(argc, argv);
}
