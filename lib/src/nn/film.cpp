#include "focus/nn/film.h"

namespace focus::nn {

FilmImpl::FilmImpl(const FilmOptions& options_) : options(options_) { reset(); }

void FilmImpl::reset() {
  TORCH_CHECK(options.channels() > 0 && options.condition_dim() > 0, "Film: channels and condition_dim must be > 0");
  generator = register_module("generator", torch::nn::Linear(options.condition_dim(), 2 * options.channels()));
  if (options.identity_init()) {
    torch::nn::init::zeros_(generator->weight);
    torch::nn::init::zeros_(generator->bias);
  }
}

void FilmImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::Film(channels=" << options.channels() << ", condition_dim=" << options.condition_dim() << ")";
}

torch::Tensor FilmImpl::forward(const torch::Tensor& x, const torch::Tensor& condition) {
  const int64_t c = options.channels();
  TORCH_CHECK(x.dim() >= 2 && x.size(1) == c, "Film: x must be [B, ", c, ", ...], got ", x.sizes());
  TORCH_CHECK(condition.dim() == 2 && condition.size(0) == x.size(0) && condition.size(1) == options.condition_dim(),
              "Film: condition must be [", x.size(0), ", ", options.condition_dim(), "], got ", condition.sizes());
  auto params = generator(condition);  // [B, 2C]
  std::vector<int64_t> shape = {x.size(0), c};
  for (int64_t d = 2; d < x.dim(); ++d) shape.push_back(1);
  auto gamma = 1 + params.narrow(1, 0, c).view(shape);
  auto beta = params.narrow(1, c, c).view(shape);
  return x * gamma + beta;
}

}  // namespace focus::nn
