// For the SentencePiece fuzz target only: the library's backend() without the
// plugin loader. The target links SentencePiece directly and no LibTorch, so
// the protobuf clash the plugin exists to avoid cannot happen.
#include "../../lib/src/data/sentencepiece_backend.h"

extern "C" const focus::data::spm::Backend* focus_sentencepiece_backend();

namespace focus::data::spm {
const Backend& backend() { return *focus_sentencepiece_backend(); }
}  // namespace focus::data::spm
