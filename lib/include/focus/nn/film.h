#pragma once
// Feature-wise linear modulation (Perez et al. 2017, "FiLM: Visual Reasoning
// with a General Conditioning Layer"): a conditioning vector z generates a
// per-channel scale and shift, FiLM(x) = gamma(z) * x + beta(z).
// The generator predicts gamma - 1 and beta with a linear layer. By default it
// starts at the usual random initialisation: a zero-initialised generator (a
// fresh layer is then the identity, `identity_init`) sits on a saddle point of
// the question x image interaction and learned colour binding on Sort-of-CLEVR
// several times slower (docs/BENCHMARKS.md).
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace focus::nn {

struct FilmOptions {
  FilmOptions(int64_t channels, int64_t condition_dim) : channels_(channels), condition_dim_(condition_dim) {}
  /// Channels C of the modulated features.
  TORCH_ARG(int64_t, channels);
  /// Width D of the conditioning vector.
  TORCH_ARG(int64_t, condition_dim);
  /// Start as the identity (zero generator) instead of a random generator.
  TORCH_ARG(bool, identity_init) = false;
};

class FilmImpl : public torch::nn::Cloneable<FilmImpl> {
 public:
  explicit FilmImpl(const FilmOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  /// x: [B, C, ...]; condition: [B, D]. Returns gamma * x + beta, broadcast over the trailing dimensions.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& condition);

  FilmOptions options;
  torch::nn::Linear generator{nullptr};  ///< D -> 2C: (gamma - 1, beta)
};
TORCH_MODULE(Film);

}  // namespace focus::nn
