#pragma once
// Private: the SentencePiece calls Focus needs, behind an interface that a
// separate plugin (libfocus_sentencepiece.so) implements.
//
// Why a plugin: Debian's libsentencepiece embeds its own copy of protobuf and
// exports those symbols, while LibTorch loads the system libprotobuf. Linked
// into one process the two copies interpose on each other and the process
// crashes while loading. The plugin is loaded with dlopen(RTLD_LOCAL |
// RTLD_DEEPBIND), so SentencePiece binds to its own protobuf and LibTorch
// never sees it. Only standard-library types cross this interface.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace focus::data::spm {

/// One encoded piece: SentencePiece's id, piece string and byte span in the input.
struct RawPiece {
  int id = 0;
  std::string piece;
  uint32_t begin = 0, end = 0;
  bool empty_surface = false;
};

struct ModelInfo {
  int pieces = 0;
  int unk_id = 0, bos_id = -1, eos_id = -1, pad_id = -1;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual ModelInfo info() const = 0;
  virtual bool is_control_or_unknown(int id) const = 0;
  virtual std::string id_to_piece(int id) const = 0;
  /// Throws std::runtime_error with SentencePiece's message.
  virtual std::vector<RawPiece> encode(std::string_view text) const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  /// Throws std::runtime_error with SentencePiece's message.
  virtual std::unique_ptr<Model> load(const std::string& serialized) const = 0;
  /// Trains on `lines` and returns the serialized model; throws std::runtime_error with SentencePiece's message.
  virtual std::string train(const std::unordered_map<std::string, std::string>& options,
                            const std::vector<std::string_view>& lines) const = 0;
};

/// The plugin's backend, loaded on first use from the directory of
/// libfocus.so (or its focus/ subdirectory). Throws focus::Error if it cannot
/// be loaded. Limits: sanitizer runtimes refuse RTLD_DEEPBIND, and the plugin
/// must be built with the same compiler and standard library as libfocus
/// (std::string and std::vector cross the interface).
const Backend& backend();

}  // namespace focus::data::spm

/// The one symbol the plugin exports.
extern "C" const focus::data::spm::Backend* focus_sentencepiece_backend();
