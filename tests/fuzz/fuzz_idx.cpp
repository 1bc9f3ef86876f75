// IDX files (raw or gzipped), as data/fetch scripts and users supply them.
#include "focus/data/idx_reader.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  data::IdxArray array;
  if (fuzz::accepts([&] { array = data::parse_idx(std::string(fuzz::bytes_of(data, size)), "fuzz.idx"); })) {
    int64_t elements = 1;
    for (auto n : array.shape) elements *= n;
    fuzz::require(array.data.numel() == elements, "the tensor holds the declared number of elements");
    fuzz::require(array.data.dtype() == torch::kUInt8, "IDX data is uint8");
  }
  return 0;
}
