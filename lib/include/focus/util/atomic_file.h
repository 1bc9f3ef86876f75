#pragma once
// Atomic file writes: data goes to a temporary file in the same directory,
// is flushed to disk, then renamed over the target. A killed process leaves
// either the old file or the new one, never a half-written one.
#include <filesystem>
#include <string>
#include <string_view>

namespace focus::util {

/// Writes `data` to `path` atomically. Throws focus::Error naming the path.
void write_file_atomic(const std::filesystem::path& path, std::string_view data);

/// Writes `data` to `path` with every error checked, but neither atomically nor
/// durably (no fsync): for bulk outputs that are simply regenerated if lost,
/// such as a generated dataset's images. A failed write removes the file.
/// Throws focus::Error naming the path and the reason.
void write_file(const std::filesystem::path& path, std::string_view data);
/// Reads a whole file. Throws focus::Error naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace focus::util
