#include "focus/util/run_directory.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::util {
namespace fs = std::filesystem;

RunDirectory RunDirectory::create(const fs::path& root) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw Error("cannot create run directory " + root.string() + ": " + ec.message());
  if (!fs::is_directory(root)) throw Error("run directory " + root.string() + " is not a directory");
  if (::access(root.c_str(), W_OK) != 0)
    throw Error("run directory " + root.string() + " is not writable: " + std::strerror(errno));
  return RunDirectory(root);
}

RunDirectory RunDirectory::open(const fs::path& root) {
  if (!fs::is_directory(root)) throw Error("run directory " + root.string() + " does not exist");
  if (!fs::exists(root / "recipe.json"))
    throw Error("run directory " + root.string() + " has no recipe.json (is it a focus-train output folder?)");
  return RunDirectory(root);
}

bool RunDirectory::exists(const std::string& name) const { return fs::exists(file(name)); }

void RunDirectory::write_text(const std::string& name, const std::string& text) const {
  write_file_atomic(file(name), text);
}

void RunDirectory::write_json(const std::string& name, const Json& json) const {
  write_file_atomic(file(name), json.dump(2) + "\n");
}

Json RunDirectory::read_json(const std::string& name) const { return parse_json_file(file(name).string()); }

}  // namespace focus::util
