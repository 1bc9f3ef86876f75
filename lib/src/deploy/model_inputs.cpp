#include "focus/deploy/model_inputs.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "focus/data/text_batch_source.h"
#include "focus/data/text_encoding.h"
#include "focus/util/atomic_file.h"
#include "focus/util/error.h"
#include "../data/image_decode.h"

namespace focus::deploy {

static_assert(kMaxImagePixels == data::kMaxDecodedPixels, "the documented limit is the decoder's");

void check_image_shape(std::string_view bytes, const std::string& origin, const ScriptMetadata& m) {
  const cv::Mat image = data::decode_image_bytes(bytes, origin, cv::IMREAD_UNCHANGED);
  auto channels = [](int64_t c) { return std::to_string(c) + (c == 1 ? " channel" : " channels"); };
  if (image.rows != m.height || image.cols != m.width || image.channels() != m.channels)
    throw Error(origin + ": the image is " + std::to_string(image.cols) + "x" + std::to_string(image.rows) + " with " +
                channels(image.channels()) + "; the model reads " + std::to_string(m.width) + "x" +
                std::to_string(m.height) + " with " + channels(m.channels));
}

torch::Tensor image_tensor(std::string_view bytes, const std::string& origin, const ScriptMetadata& m) {
  cv::Mat image = data::decode_image_bytes(bytes, origin, m.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  if (m.channels == 3) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  if (image.rows != m.height || image.cols != m.width)
    cv::resize(image, image, cv::Size(static_cast<int>(m.width), static_cast<int>(m.height)), 0, 0, cv::INTER_AREA);
  if (!image.isContinuous()) image = image.clone();
  // One pass from interleaved uint8 to planar normalised float (cheaper than a chain of tensor ops).
  auto out = torch::empty({m.channels, m.height, m.width}, torch::kFloat);
  float* dst = out.data_ptr<float>();
  const int64_t plane = m.height * m.width, channels = m.channels;
  for (int64_t c = 0; c < channels; ++c) {
    const float scale = static_cast<float>(1.0 / (255.0 * m.normalization.std[static_cast<size_t>(c)]));
    const float shift = static_cast<float>(m.normalization.mean[static_cast<size_t>(c)] / m.normalization.std[static_cast<size_t>(c)]);
    const uint8_t* src = image.data + c;
    float* plane_out = dst + c * plane;
    for (int64_t i = 0; i < plane; ++i) plane_out[i] = static_cast<float>(src[i * channels]) * scale - shift;
  }
  return out;
}

torch::Tensor image_pixels(const torch::Tensor& image, const ScriptMetadata& m) {
  auto mean = torch::tensor(m.normalization.mean, torch::kFloat).view({m.channels, 1, 1});
  auto std = torch::tensor(m.normalization.std, torch::kFloat).view({m.channels, 1, 1});
  auto x = image.detach().to(torch::kCPU).to(torch::kFloat);
  return ((x * std + mean) * 255.0).round().clamp(0, 255).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
}

namespace {

torch::Tensor image_batch(const ScriptModel& model, const std::vector<RawExample>& examples) {
  std::vector<torch::Tensor> images;
  images.reserve(examples.size());
  for (const auto& e : examples) {
    if (!e.image.empty()) {
      images.push_back(image_tensor(e.image, e.name, model.metadata()));
    } else if (!e.image_path.empty()) {
      images.push_back(image_tensor(util::read_file(e.image_path), e.name, model.metadata()));
    } else {
      throw Error(e.name + ": the model reads an image, and this input has none");
    }
  }
  return images.size() == 1 ? images[0].unsqueeze(0) : torch::stack(images);  // one example: no copy
}

std::pair<torch::Tensor, torch::Tensor> token_batch(const ScriptModel& model, const std::vector<RawExample>& examples) {
  const auto& m = model.metadata();
  std::vector<data::EncodedText> encoded;
  std::vector<int64_t> indices;
  for (const auto& e : examples) {
    indices.push_back(static_cast<int64_t>(encoded.size()));
    encoded.push_back(data::encode_text(model.tokenizer(), e.text, m.text));
  }
  return m.text.layout == data::TextLayout::sentences ? data::pad_sentence_tokens(encoded, indices)
                                                      : data::pad_flat_tokens(encoded, indices);
}

}  // namespace

std::vector<torch::jit::IValue> make_inputs(const ScriptModel& model, const std::vector<RawExample>& examples) {
  if (examples.empty()) throw Error("no examples to predict");
  const auto& device = model.device();
  switch (model.metadata().input) {
    case models::InputKind::images: return {image_batch(model, examples).to(device)};
    case models::InputKind::tokens:
    case models::InputKind::sentences: {
      auto [ids, mask] = token_batch(model, examples);
      return {ids.to(device), mask.to(device)};
    }
    case models::InputKind::image_text: {
      auto images = image_batch(model, examples);
      auto [ids, mask] = token_batch(model, examples);
      return {images.to(device), ids.to(device), mask.to(device)};
    }
  }
  return {};
}

std::vector<std::vector<ClassScore>> top_k(const ScriptModel& model, const torch::Tensor& logits, int64_t k) {
  auto probabilities = torch::softmax(logits.to(torch::kCPU).to(torch::kFloat), 1);
  k = std::max<int64_t>(1, std::min(k, probabilities.size(1)));
  auto [values, indices] = probabilities.topk(k, 1);
  auto v = values.accessor<float, 2>();
  auto ix = indices.accessor<int64_t, 2>();
  std::vector<std::vector<ClassScore>> out(static_cast<size_t>(probabilities.size(0)));
  for (int64_t r = 0; r < probabilities.size(0); ++r)
    for (int64_t j = 0; j < k; ++j)
      out[static_cast<size_t>(r)].push_back({ix[r][j], model.class_name(ix[r][j]), static_cast<double>(v[r][j])});
  return out;
}

}  // namespace focus::deploy
