#pragma once
// metrics.jsonl: one JSON object per epoch. The whole file is rewritten
// atomically after each epoch, so it is never half-written; on resume the
// entries after the resumed epoch are dropped.
#include <filesystem>
#include <vector>

#include "focus/util/json_reader.h"

namespace focus::train {

class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path path) : path_(std::move(path)) {}
  /// Loads existing entries with epoch <= `up_to_epoch` (for resume).
  void load(int64_t up_to_epoch);
  void append(const util::Json& entry);
  const std::vector<util::Json>& entries() const { return entries_; }

 private:
  std::filesystem::path path_;
  std::vector<util::Json> entries_;
};

}  // namespace focus::train
