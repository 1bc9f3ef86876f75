#include "sentencepiece_backend.h"

#include <dlfcn.h>

#include <filesystem>

#include "focus/util/error.h"

namespace focus::data::spm {

namespace {

constexpr const char* kPluginFile = "libfocus_sentencepiece.so";

/// The directory this library (libfocus.so) was loaded from.
std::filesystem::path library_directory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&library_directory), &info) == 0 || info.dli_fname == nullptr) return {};
  return std::filesystem::path(info.dli_fname).parent_path();
}

const Backend* load_backend() {
#ifdef FOCUS_SANITIZE
  throw Error(std::string("SentencePiece is unavailable in a sanitizer build: ") + kPluginFile +
              " must be loaded with RTLD_DEEPBIND, which the sanitizer runtimes refuse");
#endif
  std::vector<std::filesystem::path> candidates;
  const auto here = library_directory();
  candidates.push_back(here / kPluginFile);
  candidates.push_back(here / "focus" / kPluginFile);  // installed layout: <libdir>/focus/
  std::string tried;
  for (const auto& path : candidates) {
    if (!std::filesystem::exists(path)) {
      tried += "\n  " + path.string() + ": not found";
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!handle) {
      tried += "\n  " + path.string() + ": " + dlerror();
      continue;
    }
    using Factory = const Backend* (*)();
    auto factory = reinterpret_cast<Factory>(dlsym(handle, "focus_sentencepiece_backend"));
    if (!factory) {
      tried += "\n  " + path.string() + ": no symbol focus_sentencepiece_backend";
      continue;
    }
    return factory();  // the handle stays open for the life of the process
  }
  throw Error(std::string("cannot load the SentencePiece plugin ") + kPluginFile + ":" + tried);
}

}  // namespace

const Backend& backend() {
  static const Backend* const loaded = load_backend();  // thread-safe, once per process
  return *loaded;
}

}  // namespace focus::data::spm
