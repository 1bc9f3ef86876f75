#include "focus/data/idx_reader.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>

#include "focus/util/atomic_file.h"
#include "focus/util/error.h"

namespace focus::data {

std::string maybe_gunzip(std::string bytes, const std::string& origin) {
  if (bytes.size() < 2 || static_cast<unsigned char>(bytes[0]) != 0x1f || static_cast<unsigned char>(bytes[1]) != 0x8b)
    return bytes;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw Error(origin + ": cannot initialise gzip decoder");
  zs.next_in = reinterpret_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  char buffer[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw Error(origin + ": corrupt or truncated gzip data (" + (zs.msg ? zs.msg : "zlib error " + std::to_string(rc)) +
                  ", after " + std::to_string(out.size()) + " decompressed bytes)");
    }
    out.append(buffer, sizeof(buffer) - zs.avail_out);
    if (rc != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw Error(origin + ": truncated gzip data (stream ends after " + std::to_string(out.size()) +
                  " decompressed bytes)");
    }
  }
  inflateEnd(&zs);
  return out;
}

namespace {
uint32_t read_be32(const std::string& s, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + offset);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
}  // namespace

IdxArray read_idx(const std::string& path) { return parse_idx(util::read_file(path), path); }

IdxArray parse_idx(std::string data, const std::string& path) {
  const std::string bytes = maybe_gunzip(std::move(data), path);
  if (bytes.size() < 4)
    throw Error(path + ": not an IDX file: expected a 4-byte header, found " + std::to_string(bytes.size()) + " bytes");
  const auto* h = reinterpret_cast<const unsigned char*>(bytes.data());
  if (h[0] != 0 || h[1] != 0)
    throw Error(path + ": not an IDX file: the magic number must start with two zero bytes");
  if (h[2] != 0x08)
  {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02X", h[2]);
    throw Error(path + ": unsupported IDX element type " + type + ": expected 0x08 (unsigned byte)");
  }
  const int dims = h[3];
  if (dims < 1 || dims > 4) throw Error(path + ": IDX file has " + std::to_string(dims) + " dimensions, expected 1 to 4");
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (bytes.size() < header)
    throw Error(path + ": truncated IDX header: expected " + std::to_string(header) + " bytes, found " +
                std::to_string(bytes.size()));
  IdxArray out;
  size_t count = 1;
  for (int d = 0; d < dims; ++d) {
    const uint32_t n = read_be32(bytes, 4 + 4 * d);
    out.shape.push_back(n);
    if (__builtin_mul_overflow(count, static_cast<size_t>(n), &count) || count > (size_t{1} << 34))
      throw Error(path + ": IDX header declares an implausibly large array (over 16 GiB)");
  }
  const size_t found = bytes.size() - header;
  if (found < count)
    throw Error(path + ": truncated IDX data: expected " + std::to_string(count) + " bytes after the header, found " +
                std::to_string(found));
  if (found > count)
    throw Error(path + ": IDX file has " + std::to_string(found - count) + " unexpected trailing bytes");
  out.data = torch::empty(out.shape, torch::kUInt8);
  if (count > 0) std::memcpy(out.data.data_ptr(), bytes.data() + header, count);
  return out;
}

}  // namespace focus::data
