// The multimodal manifest (JSON Lines: image, text, label, extra fields).
#include "focus/data/multimodal_manifest.h"
#include "focus/data/utf8.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace focus;
  if (size < 1) return 0;
  data::ManifestReadOptions options;
  if (data[0] & 1) options.label_field = "";
  if (data[0] & 2) options.group_field = "type";
  std::vector<data::ManifestExample> examples;
  if (fuzz::accepts([&] { examples = data::parse_manifest(fuzz::bytes_of(data + 1, size - 1), "fuzz.jsonl", options); })) {
    for (const auto& e : examples) {
      fuzz::require(!e.image.empty(), "every example names an image");
      fuzz::require(!data::find_invalid_utf8(e.text), "texts are valid UTF-8");
      fuzz::require(e.line >= 1, "line numbers start at 1");
    }
  }
  return 0;
}
