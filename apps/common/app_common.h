#pragma once
// Shared by the executables: common flags, logging setup and the one place
// that turns exceptions into a message and a non-zero exit status.
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace focus::apps {

struct CommonFlags {
  int threads = 0;               ///< LibTorch intra-op threads; 0 = all cores
  std::string device = "auto";   ///< auto, cpu, cuda, cuda:N
  std::string log_level = "info";///< trace, debug, info, warn, error, off
  bool long_running = false;     ///< a server: freed memory goes back to the kernel (set by the app, no flag)
};

/// Adds --threads, --device and --log-level to `app`.
void add_common_flags(CLI::App& app, CommonFlags& flags);
/// Applies them: logging to stderr at the level, LibTorch threads.
void apply_common_flags(const CommonFlags& flags);
/// True when stderr is a terminal.
bool stderr_is_tty();

/// Class names from a file, one per line (for models without Focus metadata);
/// throws focus::Error when it cannot be read or names none.
std::vector<std::string> read_labels(const std::string& file);

/// Parses the command line with `app` and runs `body`, catching every
/// exception: prints "<name>: error: <message>" to stderr and returns 1.
int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace focus::apps
