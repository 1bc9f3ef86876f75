#pragma once
// The library's logger: named "focus", writing to stderr (never stdout), so
// programs that use the library keep stdout for their own output. Apps may
// reconfigure it (level, pattern) through spdlog.
#include <memory>

#include <spdlog/logger.h>

namespace focus::util {

/// The "focus" logger, created on first use (stderr, colour on a terminal).
std::shared_ptr<spdlog::logger> log();

}  // namespace focus::util
