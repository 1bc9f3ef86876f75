#include "common/app_common.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "focus/util/error.h"
#include "focus/util/log.h"
#include "focus/util/runtime.h"

namespace focus::apps {

void add_common_flags(CLI::App& app, CommonFlags& flags) {
  app.add_option("--threads", flags.threads, "LibTorch intra-op threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--device", flags.device, "Compute device: auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--log-level", flags.log_level, "Logging on stderr: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

void apply_common_flags(const CommonFlags& flags) {
  util::log()->set_level(spdlog::level::from_str(flags.log_level));
  util::configure_allocator(flags.long_running ? util::AllocatorPolicy::return_freed : util::AllocatorPolicy::keep_freed);
  const int threads = util::configure_threads(flags.threads);
  util::log()->debug("LibTorch intra-op threads: {}", threads);
}

std::vector<std::string> read_labels(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Error(file + ": cannot open the labels file");
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  if (labels.empty()) throw Error(file + ": no labels (expected one class name per line)");
  return labels;
}

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return body();
  } catch (const focus::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what_without_backtrace());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
  }
  return 1;
}

}  // namespace focus::apps
