#include "focus/train/progress.h"

#include "focus/util/log.h"

#include <cmath>

namespace focus::train {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", long(s / 3600), long((s % 3600) / 60));
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", long(s / 60), long(s % 60));
  else std::snprintf(buf, sizeof buf, "%lds", long(s));
  return buf;
}

ProgressDisplay::ProgressDisplay(std::FILE* stream, bool tty, bool enabled)
    : stream_(stream), tty_(tty), enabled_(enabled) {}

void ProgressDisplay::update(const ProgressSnapshot& s) {
  if (!enabled_ || s.steps <= 0) return;
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (s.step != s.steps && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 24;
    const int filled = static_cast<int>(width * s.step / s.steps);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '.');
    std::fprintf(stream_, "\r\033[Kepoch %ld/%ld [%s] %ld/%ld loss %.4f acc %.4f %.0f ex/s ETA %s", long(s.epoch),
                 long(s.epochs), bar.c_str(), long(s.step), long(s.steps), s.loss, s.accuracy, s.examples_per_second,
                 format_duration(s.eta_seconds).c_str());
    std::fflush(stream_);
    return;
  }
  const int64_t decile = 10 * s.step / s.steps;
  if (decile == last_decile_ || decile == 0 || s.step == s.steps) return;
  last_decile_ = decile;
  focus::util::log()->info("epoch {}/{} {:3d}% loss {:.4f} acc {:.4f} {:.0f} ex/s ETA {}", s.epoch, s.epochs, decile * 10, s.loss,
               s.accuracy, s.examples_per_second, format_duration(s.eta_seconds));
}

void ProgressDisplay::end_epoch() {
  last_decile_ = -1;
  if (enabled_ && tty_) {
    std::fprintf(stream_, "\r\033[K");
    std::fflush(stream_);
  }
}

}  // namespace focus::train
