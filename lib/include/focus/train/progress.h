#pragma once
// Training progress display: a single redrawn bar on a terminal (loss,
// accuracy, images/s, ETA), plain log lines every ~10% of an epoch otherwise.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace focus::train {

struct ProgressSnapshot {
  int64_t epoch = 0, epochs = 0;  ///< 1-based current epoch and total
  int64_t step = 0, steps = 0;    ///< batches done in this epoch and per epoch
  double loss = 0, accuracy = 0;  ///< running means over the epoch so far
  double examples_per_second = 0;
  double eta_seconds = 0;         ///< for the rest of the epoch
};

class ProgressDisplay {
 public:
  /// `tty`: draw a bar on `stream` (usually stderr); otherwise log lines via spdlog.
  ProgressDisplay(std::FILE* stream, bool tty, bool enabled = true);
  void update(const ProgressSnapshot& s);
  /// Clears the bar before a log line about the finished epoch.
  void end_epoch();

 private:
  std::FILE* stream_;
  bool tty_, enabled_;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point last_draw_{};
};

/// "1h02m", "4m05s", "12s".
std::string format_duration(double seconds);

}  // namespace focus::train
