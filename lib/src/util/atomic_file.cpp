#include "focus/util/atomic_file.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "focus/util/error.h"

namespace focus::util {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

namespace {
/// Writes all of `data` to `fd`; on failure closes it, removes `written_path`
/// and throws naming `path` and the reason.
void write_all(int fd, std::string_view data, const fs::path& path, const fs::path& written_path) {
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = errno_text();
      ::close(fd);
      ::unlink(written_path.c_str());
      throw Error("cannot write " + path.string() + ": " + why);
    }
    written += static_cast<size_t>(n);
  }
}
}  // namespace

void write_file_atomic(const fs::path& path, std::string_view data) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::random_device rd;
  const fs::path tmp = dir / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path.string() + ": " + errno_text());
  write_all(fd, data, path, tmp);
  const bool synced = ::fsync(fd) == 0;
  const std::string sync_error = synced ? "" : errno_text();
  if (::close(fd) != 0 || !synced) {  // the descriptor is closed either way
    const std::string why = synced ? errno_text() : sync_error;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path.string() + ": " + why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path.string() + ": " + why);
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file(const fs::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot write " + path.string() + ": " + errno_text());
  write_all(fd, data, path, path);
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(path.c_str());
    throw Error("cannot write " + path.string() + ": " + why);
  }
}

std::string read_file(const fs::path& path) {
  // POSIX calls: an ifstream + stringstream round trip cost ~30 us per small
  // file, a third of focus-predict's per-image overhead.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot read " + path.string() + ": " + errno_text());
  struct stat info {};
  std::string data;
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw Error("cannot read " + path.string() + ": it is a directory");
  }
  if (info.st_size > 0) data.reserve(static_cast<size_t>(info.st_size));
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const std::string why = errno_text();
      ::close(fd);
      throw Error("cannot read " + path.string() + ": " + why);
    }
    data.append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return data;
}

}  // namespace focus::util
