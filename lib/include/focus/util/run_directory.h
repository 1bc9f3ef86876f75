#pragma once
// A run directory (runs/NAME/) holds everything later steps need: the
// resolved recipe, label names, normalisation, checkpoints, metrics, reports.
// Every file is written atomically.
#include <filesystem>
#include <string>

#include "focus/util/json_reader.h"

namespace focus::util {

class RunDirectory {
 public:
  /// Creates the directory (and parents) if needed; throws if it cannot be
  /// created or written to.
  static RunDirectory create(const std::filesystem::path& root);
  /// Opens an existing run; throws if it is not a directory holding recipe.json.
  static RunDirectory open(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path file(const std::string& name) const { return root_ / name; }
  bool exists(const std::string& name) const;

  void write_text(const std::string& name, const std::string& text) const;
  void write_json(const std::string& name, const Json& json) const;
  Json read_json(const std::string& name) const;

 private:
  explicit RunDirectory(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

}  // namespace focus::util
