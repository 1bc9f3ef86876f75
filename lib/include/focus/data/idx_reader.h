#pragma once
// Reader for IDX files (the MNIST format: big-endian magic 0x0000TTDD, where
// TT is the element type and DD the number of dimensions, then DD big-endian
// uint32 sizes, then the data). Gzipped files are recognised by their magic.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace focus::data {

struct IdxArray {
  std::vector<int64_t> shape;
  torch::Tensor data;  ///< uint8, shaped `shape`
};

/// Reads an unsigned-byte IDX file (type 0x08), raw or gzipped. Throws
/// focus::Error naming the file for a missing, truncated or malformed file.
IdxArray read_idx(const std::string& path);

/// The same for the file's bytes already in memory; `origin` names them in errors.
IdxArray parse_idx(std::string bytes, const std::string& origin);

/// Decompresses gzip data if `bytes` starts with the gzip magic; otherwise
/// returns it unchanged. `origin` names the data in error messages.
std::string maybe_gunzip(std::string bytes, const std::string& origin);

}  // namespace focus::data
