// Catch2's main, with the library's logging kept quiet (errors only).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include "focus/util/log.h"

int main(int argc, char** argv) {
  focus::util::log()->set_level(spdlog::level::err);
  return Catch::Session().run(argc, argv);
}
