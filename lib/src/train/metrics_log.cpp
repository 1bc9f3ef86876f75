#include "focus/train/metrics_log.h"

#include <sstream>

#include "focus/util/atomic_file.h"

namespace focus::train {

void MetricsLog::load(int64_t up_to_epoch) {
  entries_.clear();
  if (!std::filesystem::exists(path_)) return;
  std::istringstream in(util::read_file(path_));
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const std::string where = path_.string() + " line " + std::to_string(number);
    auto entry = util::parse_json_text(line, where);
    int64_t epoch = 0;
    if (!entry.is_object() || !entry.contains("epoch")) throw Error(where + ": expected an object with an \"epoch\"");
    util::convert(entry["epoch"], where + ": epoch", epoch);
    if (epoch <= up_to_epoch) entries_.push_back(std::move(entry));
  }
}

void MetricsLog::append(const util::Json& entry) {
  entries_.push_back(entry);
  std::string text;
  for (const auto& e : entries_) text += e.dump() + "\n";
  util::write_file_atomic(path_, text);
}

}  // namespace focus::train
