#include "focus/util/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace focus::util {

std::shared_ptr<spdlog::logger> log() {
  if (auto existing = spdlog::get("focus")) return existing;
  try {
    auto logger = spdlog::stderr_color_mt("focus");
    logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
    return logger;
  } catch (const spdlog::spdlog_ex&) {  // created concurrently by another thread
    return spdlog::get("focus");
  }
}

}  // namespace focus::util
