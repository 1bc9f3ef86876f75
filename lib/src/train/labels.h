#pragma once
// Label handling shared by the text and multimodal tasks (internal to the
// library). `Example` has `std::string label` and `int64_t line`.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "focus/util/error.h"

namespace focus::train {

/// The configured class names, or else the sorted labels of the training examples.
template <class Example>
std::vector<std::string> class_names_for(const std::vector<std::string>& configured, const std::vector<Example>& train) {
  if (!configured.empty()) return configured;
  std::set<std::string> seen;
  for (const auto& e : train) seen.insert(e.label);
  return {seen.begin(), seen.end()};
}

/// The class index of every example; an unknown label is an error naming origin:line.
template <class Example>
std::vector<int64_t> label_indices(const std::vector<Example>& examples, const std::vector<std::string>& names,
                                   const std::string& origin) {
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < names.size(); ++i) index[names[i]] = static_cast<int64_t>(i);
  std::vector<int64_t> labels;
  labels.reserve(examples.size());
  for (const auto& e : examples) {
    auto it = index.find(e.label);
    if (it == index.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw Error(origin + ":" + std::to_string(e.line) + ": label '" + e.label +
                  "' is not one of the training labels (" + known + ")");
    }
    labels.push_back(it->second);
  }
  return labels;
}

}  // namespace focus::train
