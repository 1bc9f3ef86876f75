#include "focus/deploy/to_torchscript.h"

#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "focus/models/attn_cnn.h"
#include "focus/models/bag_of_embeddings.h"
#include "focus/models/fusion_net.h"
#include "focus/models/hierarchical_attention_net.h"
#include "focus/models/text_transformer.h"
#include "focus/models/vision_transformer.h"
#include "focus/util/error.h"

namespace focus::deploy {

namespace {

using JitModule = torch::jit::Module;

/// A double as a TorchScript float literal that reads back bit-exactly.
std::string num(double v) {
  std::ostringstream out;
  out << std::setprecision(17) << v;
  std::string s = out.str();
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}
std::string num(int64_t v) { return std::to_string(v); }
std::string ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
std::string attr_or_none(const torch::Tensor& t, const std::string& name) {
  return t.defined() ? "self." + name : "None";
}
/// `owner.child` for a child whose name is not an identifier (ModuleList and Sequential items).
std::string child(const std::string& owner, const std::string& name) {
  return "getattr(" + owner + ", \"" + name + "\")";
}

/// Source lines with indentation, for one class's methods.
class Source {
 public:
  Source& def(const std::string& signature) {
    text_ += "def " + signature + ":\n";
    return *this;
  }
  Source& operator()(const std::string& line, int indent = 1) {
    text_ += std::string(2 * static_cast<size_t>(indent), ' ') + line + "\n";
    return *this;
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

/// The masked softmax of nn/masked_softmax.h (fully masked rows are all-zero).
void emit_masked_softmax(Source& s, const std::string& out, const std::string& scores, const std::string& keep,
                         int indent) {
  s("drop = " + keep + ".logical_not()", indent);
  s(out + " = torch.softmax(" + scores + " + torch.zeros(drop.size(), dtype=" + scores + ".dtype, device=" + scores +
        ".device).masked_fill(drop, float(\"-inf\")), -1)",
    indent);
  s("empty = drop.all(-1, keepdim=True)", indent);
  s("if bool(empty.any()):", indent)(out + " = " + out + ".masked_fill(empty, 0.0)", indent + 1);
}

// ------------------------------------------------------------ torch::nn leaves

std::string linear_source(const torch::nn::LinearImpl& m) {
  Source s;
  s.def("forward(self, x: Tensor) -> Tensor")("return torch.linear(x, self.weight, " + attr_or_none(m.bias, "bias") + ")");
  return s.str();
}

std::string conv2d_source(const torch::nn::Conv2dImpl& m) {
  const auto& o = m.options;
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  if (!padding || !c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()))
    throw Error("to_torchscript: only Conv2d with explicit zero padding is supported");
  auto arr = [](const torch::ExpandingArray<2>& a) { return std::vector<int64_t>(a->begin(), a->end()); };
  Source s;
  s.def("forward(self, x: Tensor) -> Tensor")("return torch.conv2d(x, self.weight, " + attr_or_none(m.bias, "bias") +
                                              ", " + ints(arr(o.stride())) + ", " + ints(arr(*padding)) + ", " +
                                              ints(arr(o.dilation())) + ", " + num(o.groups()) + ")");
  return s.str();
}

std::string batch_norm_source(const torch::nn::BatchNorm2dImpl& m) {
  if (!m.options.track_running_stats()) throw Error("to_torchscript: BatchNorm2d without running statistics");
  Source s;
  s.def("forward(self, x: Tensor) -> Tensor")("return torch.batch_norm(x, " + attr_or_none(m.weight, "weight") + ", " +
                                              attr_or_none(m.bias, "bias") +
                                              ", self.running_mean, self.running_var, False, 0.0, " +
                                              num(m.options.eps()) + ", True)");
  return s.str();
}

std::string layer_norm_source(const torch::nn::LayerNormImpl& m) {
  Source s;
  s.def("forward(self, x: Tensor) -> Tensor")("return torch.layer_norm(x, " + ints(m.options.normalized_shape()) + ", " +
                                              attr_or_none(m.weight, "weight") + ", " + attr_or_none(m.bias, "bias") +
                                              ", " + num(m.options.eps()) + ", True)");
  return s.str();
}

std::string embedding_source(const torch::nn::EmbeddingImpl& m) {
  if (m.options.max_norm()) throw Error("to_torchscript: Embedding with max_norm is not supported");
  Source s;
  s.def("forward(self, ids: Tensor) -> Tensor")("return torch.embedding(self.weight, ids, -1, False, False)");
  return s.str();
}

/// A one-layer bidirectional batch-first GRU over padded sequences with
/// lengths, run packed exactly like HierarchicalAttentionNet's run_packed.
std::string gru_source(const torch::nn::GRUImpl& m) {
  const auto& o = m.options;
  if (o.num_layers() != 1 || !o.bidirectional() || !o.batch_first() || !o.bias())
    throw Error("to_torchscript: only one-layer bidirectional batch-first GRUs with biases are supported");
  Source s;
  s.def("forward(self, x: Tensor, lengths: Tensor) -> Tensor");
  s("sorted_lengths, order = torch.sort(lengths.cpu(), 0, True)");
  s("order = order.to(x.device)");
  s("data, batch_sizes = torch._pack_padded_sequence(x.index_select(0, order), sorted_lengths, True)");
  s("hx = torch.zeros([2, x.size(0), " + num(o.hidden_size()) + "], dtype=x.dtype, device=x.device)");
  s("params = [self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0, self.weight_ih_l0_reverse, "
    "self.weight_hh_l0_reverse, self.bias_ih_l0_reverse, self.bias_hh_l0_reverse]");
  s("output, _h = torch.gru(data, batch_sizes, hx, params, True, 1, 0.0, False, True)");
  s("padded, _lengths = torch._pad_packed_sequence(output, batch_sizes, True, 0.0, x.size(1))");
  s("unsorted = torch.empty_like(order).scatter_(0, order, torch.arange(0, order.numel(), device=order.device))");
  s("return padded.index_select(0, unsorted)");
  return s.str();
}

std::string sequential_source(const torch::nn::SequentialImpl& m) {
  Source s;
  s.def("forward(self, x: Tensor) -> Tensor");
  for (size_t i = 0; i < m.size(); ++i) s("x = " + child("self", std::to_string(i)) + ".forward(x)");
  s("return x");
  return s.str();
}

// ------------------------------------------------------------ focus::nn

std::string attention_pool_source(const nn::AttentionPoolImpl& m) {
  Source s;
  s.def("forward(self, x: Tensor, valid: Optional[Tensor]) -> Tuple[Tensor, Tensor]");
  s(m.project ? "scores = self.score.forward(torch.tanh(self.project.forward(x))).squeeze(-1)"
              : "scores = self.score.forward(x).squeeze(-1)");
  s("if valid is None:")("weights = torch.softmax(scores, -1)", 2);
  s("else:");
  emit_masked_softmax(s, "weights", "scores", "valid.to(torch.bool)", 2);
  s("pooled = torch.bmm(weights.unsqueeze(1), x).squeeze(1)");
  s("return pooled, weights");
  return s.str();
}

std::string multi_head_attention_source(const nn::MultiHeadAttentionImpl& m) {
  const int64_t e = m.options.embed_dim(), h = m.options.num_heads(), d = e / h;
  Source s;
  s.def("attend(self, q_in: Tensor, k_in: Tensor, v_in: Tensor, keep: Optional[Tensor], bias: Optional[Tensor]) -> "
        "Tuple[Tensor, Tensor]");
  s("b = q_in.size(0)")("lq = q_in.size(1)")("lk = k_in.size(1)");
  s("q = q_in.view([b, lq, " + num(h) + ", " + num(d) + "]).transpose(1, 2)");
  s("k = k_in.view([b, lk, " + num(h) + ", " + num(d) + "]).transpose(1, 2)");
  s("v = v_in.view([b, lk, " + num(h) + ", " + num(d) + "]).transpose(1, 2)");
  s("scores = torch.matmul(q * " + num(1.0 / std::sqrt(static_cast<double>(d))) + ", k.transpose(-2, -1))");
  s("if bias is not None:")("scores = scores + bias", 2);
  s("if keep is None:")("weights = torch.softmax(scores, -1)", 2);
  s("else:");
  emit_masked_softmax(s, "weights", "scores", "keep", 2);
  s("merged = torch.matmul(weights, v).transpose(1, 2).contiguous().view([b, lq, " + num(e) + "])");
  s("return self.out_proj.forward(merged), weights");
  s.def("forward(self, query: Tensor, key: Tensor, value: Tensor, keep: Optional[Tensor]) -> Tuple[Tensor, Tensor]");
  s("return self.attend(self.q_proj.forward(query), self.k_proj.forward(key), self.v_proj.forward(value), keep, None)");
  s.def("forward_grouped(self, query: Tensor, key: Tensor, value: Tensor, group: Tensor, keep: Optional[Tensor], "
        "bias: Optional[Tensor]) -> Tuple[Tensor, Tensor]");
  s("return self.attend(self.q_proj.forward(query), self.k_proj.forward(key).index_select(0, group), "
    "self.v_proj.forward(value).index_select(0, group), keep, bias)");
  return s.str();
}

std::string squeeze_excitation_source() {
  Source s;
  s.def("forward(self, x: Tensor) -> Tuple[Tensor, Tensor]");
  s("weights = torch.sigmoid(self.fc2.forward(torch.relu(self.fc1.forward(x.mean([2, 3])))))");
  s("return x * weights.unsqueeze(-1).unsqueeze(-1), weights");
  return s.str();
}

std::string cbam_source() {
  Source s;
  s.def("mlp(self, v: Tensor) -> Tensor")("return self.fc2.forward(torch.relu(self.fc1.forward(v)))");
  s.def("forward(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]");
  s("channel = torch.sigmoid(self.mlp(x.mean([2, 3])) + self.mlp(x.amax([2, 3])))");
  s("refined = x * channel.unsqueeze(-1).unsqueeze(-1)");
  s("descriptor = torch.cat([refined.mean([1], True), refined.amax([1], True)], 1)");
  s("spatial = torch.sigmoid(self.spatial.forward(descriptor))");
  s("return refined * spatial, channel, spatial");
  return s.str();
}

std::string non_local_source() {
  Source s;
  s.def("forward(self, x: Tensor) -> Tuple[Tensor, Tensor]");
  s("b = x.size(0)")("h = x.size(2)")("w = x.size(3)");
  s("t = self.theta.forward(x).flatten(2).transpose(1, 2)");
  s("p = self.phi.forward(x).flatten(2)");
  s("v = self.g.forward(x).flatten(2).transpose(1, 2)");
  s("affinity = torch.softmax(torch.bmm(t, p), -1)");
  s("y = torch.bmm(affinity, v).transpose(1, 2).reshape([b, -1, h, w])");
  s("return self.bn.forward(self.w_z.forward(y)) + x, affinity");
  return s.str();
}

std::string film_source(const nn::FilmImpl& m) {
  const int64_t c = m.options.channels();
  Source s;
  s.def("forward(self, x: Tensor, condition: Tensor) -> Tensor");
  s("params = self.generator.forward(condition)");
  s("shape = [x.size(0), " + num(c) + "]");
  s("for _d in range(2, x.dim()):")("shape.append(1)", 2);
  s("gamma = 1 + params.narrow(1, 0, " + num(c) + ").view(shape)");
  s("beta = params.narrow(1, " + num(c) + ", " + num(c) + ").view(shape)");
  s("return x * gamma + beta");
  return s.str();
}

std::string encoder_layer_source() {
  Source s;
  s.def("forward(self, x: Tensor, keep: Optional[Tensor]) -> Tuple[Tensor, Tensor]");
  s("normed = self.norm1.forward(x)");
  s("attended, weights = self.attention.forward(normed, normed, normed, keep)");
  s("y = x + attended");
  s("y = y + self.ff2.forward(torch.gelu(self.ff1.forward(self.norm2.forward(y))))");
  s("return y, weights");
  return s.str();
}

std::string encoder_source(const nn::TransformerEncoderImpl& m) {
  Source s;
  s.def("forward(self, x: Tensor, keep: Optional[Tensor]) -> Tuple[Tensor, List[Tensor]]");
  s("weights: List[Tensor] = []");
  for (size_t i = 0; i < m.layers->size(); ++i) {
    s("x, w = " + child("self.layers", std::to_string(i)) + ".forward(x, keep)");
    s("weights.append(w)");
  }
  if (m.norm) s("x = self.norm.forward(x)");
  s("return x, weights");
  return s.str();
}

// ------------------------------------------------------------ focus::models parts

/// The map names a residual block appends after its own name, in order.
std::vector<std::string> block_map_suffixes(const models::ResidualBlockImpl& block) {
  if (block.se) return {".se.channel"};
  if (block.cbam) return {".cbam.channel", ".cbam.spatial"};
  if (block.nonlocal) return {".nonlocal.affinity"};
  return {};
}

std::string residual_block_source(const models::ResidualBlockImpl& m) {
  Source s;
  s.def("forward(self, x: Tensor) -> Tuple[Tensor, List[Tensor]]");
  s("maps: List[Tensor] = []");
  s("y = torch.relu(self.bn1.forward(self.conv1.forward(x)))");
  s("y = self.bn2.forward(self.conv2.forward(y))");
  if (m.se) s("y, channel = self.se.forward(y)")("maps.append(channel)");
  if (m.cbam) s("y, channel, spatial = self.cbam.forward(y)")("maps.append(channel)")("maps.append(spatial)");
  s(m.shortcut ? "y = torch.relu(y + self.shortcut.forward(x))" : "y = torch.relu(y + x)");
  if (m.nonlocal) s("y, affinity = self.nonlocal.forward(y)")("maps.append(affinity)");
  s("return y, maps");
  return s.str();
}

/// Runs the blocks of a CNN trunk on `x`, recording their maps under their names.
void emit_blocks(Source& s, const std::vector<models::ResidualBlock>& blocks, const std::vector<std::string>& names) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    std::string attr = names[i];
    std::replace(attr.begin(), attr.end(), '.', '_');
    s("x, block_maps = self." + attr + ".forward(x)");
    const auto suffixes = block_map_suffixes(*blocks[i]);
    for (size_t k = 0; k < suffixes.size(); ++k)
      s("maps[\"" + names[i] + suffixes[k] + "\"] = block_maps[" + std::to_string(k) + "]");
  }
}

std::string text_encoder_source(const models::TextEncoderImpl& m) {
  const auto max_length = m.options.max_length;
  Source s;
  s.def("forward(self, ids: Tensor, valid: Tensor) -> Tuple[Tensor, List[Tensor]]");
  s("length = ids.size(1)");
  s("assert length <= " + num(max_length) + ", \"TextEncoder: sequence longer than max_length " + num(max_length) + "\"");
  s("x = self.embedding.forward(ids) + self.positions[0:length].unsqueeze(0)");
  s("return self.encoder.forward(x, valid.view([ids.size(0), 1, 1, length]))");
  return s.str();
}

std::string film_block_source() {
  Source s;
  s.def("forward(self, x: Tensor, coords: Tensor, condition: Tensor) -> Tensor");
  s("y = torch.relu(self.conv1.forward(torch.cat([x, coords.expand([x.size(0), 2, x.size(2), x.size(3)])], 1)))");
  s("return y + torch.relu(self.film.forward(self.norm.forward(self.conv2.forward(y)), condition))");
  return s.str();
}

std::string cross_layer_source(const models::CrossLayerImpl& m) {
  Source s;
  s.def("forward(self, tokens: Tensor, keep: Tensor, regions: Tensor, image_index: Tensor, features: Optional[Tensor]) "
        "-> Tuple[Tensor, Tensor]");
  s("h = self.norm_self.forward(tokens)");
  s("attended, _self_weights = self.self_attention.forward(h, h, h, keep)");
  s("x = tokens + attended");
  s("r = self.norm_regions.forward(regions)");
  s("query = self.norm_query.forward(x)");
  if (m.focus_bias) {  // models::CrossLayerImpl::forward
    s("assert features is not None, \"CrossLayer: a layer with a focus bias needs focus features\"");
    s("c = self.focus_coefficients.forward(query).view([x.size(0), x.size(1), " + num(m.heads) + ", " +
      num(models::kFocusFeatures) + "])");
    s("bias = torch.matmul(c, features.transpose(-1, -2)).transpose(1, 2)");
    s("cross, weights = self.cross_attention.forward_grouped(query, r, r, image_index, None, bias)");
  } else {
    s("cross, weights = self.cross_attention.forward_grouped(query, r, r, image_index, None, None)");
  }
  s("x = x + cross");
  s("x = x + self.ff2.forward(torch.gelu(self.ff1.forward(self.norm_ff.forward(x))))");
  s("return x, weights");
  return s.str();
}

// ------------------------------------------------------------ classifiers

/// forward() in terms of forward_with_attention(), for the given parameters.
void emit_forward(Source& s, const std::string& params, const std::string& args) {
  s.def("forward(self, " + params + ") -> Tensor")("return self.forward_with_attention(" + args + ")[0]");
}
const char* kWithAttention = ") -> Tuple[Tensor, Dict[str, Tensor]]";

std::string attn_cnn_source(const models::AttnCNNImpl& m) {
  const int64_t c = m.options.in_channels;
  Source s;
  s.def("forward_with_attention(self, images: Tensor" + std::string(kWithAttention));
  s("assert images.dim() == 4 and images.size(1) == " + num(c) + ", \"AttnCNN: expected images [B, " + num(c) +
    ", H, W]\"");
  s("maps: Dict[str, Tensor] = {}");
  s("x = torch.relu(self.stem_bn.forward(self.stem.forward(images)))");
  emit_blocks(s, m.blocks, m.block_names);
  if (m.pool) {
    s("pooled, weights = self.pool.forward(x.flatten(2).transpose(1, 2), None)");
    s("maps[\"head.attention_pool\"] = weights.view([x.size(0), 1, x.size(2), x.size(3)])");
    s("features = pooled");
  } else {
    s("features = x.mean([2, 3])");
  }
  s("return self.classifier.forward(features), maps");
  emit_forward(s, "images: Tensor", "images");
  return s.str();
}

std::string vit_source(const models::VisionTransformerImpl& m) {
  const auto& o = m.options;
  Source s;
  s.def("forward_with_attention(self, images: Tensor" + std::string(kWithAttention));
  s("assert images.dim() == 4 and images.size(1) == " + num(o.in_channels) + " and images.size(2) == " +
    num(o.image_height) + " and images.size(3) == " + num(o.image_width) + ", \"VisionTransformer: expected images [B, " +
    num(o.in_channels) + ", " + num(o.image_height) + ", " + num(o.image_width) + "]\"");
  s("maps: Dict[str, Tensor] = {}");
  s("tokens = self.patch_embedding.forward(images).flatten(2).transpose(1, 2)");
  s("tokens = torch.cat([self.cls_token.expand([tokens.size(0), 1, " + num(o.dim) + "]), tokens], 1) + self.positions");
  s("encoded, weights = self.encoder.forward(tokens, None)");
  for (int64_t i = 0; i < o.layers; ++i) s("maps[\"encoder.layer" + num(i) + "\"] = weights[" + num(i) + "]");
  s("return self.classifier.forward(encoded.select(1, 0)), maps");
  emit_forward(s, "images: Tensor", "images");
  return s.str();
}

std::string text_transformer_source(const models::TextTransformerImpl& m) {
  Source s;
  s.def("forward_with_attention(self, ids: Tensor, mask: Tensor" + std::string(kWithAttention));
  s("assert ids.dim() == 2 and mask.size() == ids.size(), \"TextTransformer: expected ids [B, L] and a mask [B, L]\"");
  s("maps: Dict[str, Tensor] = {}");
  s("valid = mask.to(torch.bool)");
  s("encoded, weights = self.encoder.forward(ids, valid)");
  for (int64_t i = 0; i < m.options.encoder.layers; ++i)
    s("maps[\"encoder.layer" + num(i) + "\"] = weights[" + num(i) + "]");
  if (m.pool) {
    s("summary, pool_weights = self.pool.forward(encoded, valid)");
    s("maps[\"head.pool\"] = pool_weights");
  } else {
    s("summary = encoded.select(1, 0)");
  }
  s("return self.classifier.forward(summary), maps");
  emit_forward(s, "ids: Tensor, mask: Tensor", "ids, mask");
  return s.str();
}

std::string bag_of_embeddings_source(const models::BagOfEmbeddingsImpl& m) {
  Source s;
  s.def("forward_with_attention(self, ids: Tensor, mask: Tensor" + std::string(kWithAttention));
  s("assert ids.dim() == 2 and mask.size() == ids.size(), \"BagOfEmbeddings: expected ids [B, L] and a mask [B, L]\"");
  s("maps: Dict[str, Tensor] = {}");
  s("keep = mask.to(torch.bool)");
  s("valid = keep.to(torch.float32).unsqueeze(-1)");
  s("total = (self.words.forward(ids) * valid).sum(1)");
  s("count = valid.sum(1)");
  if (m.bigrams) {
    s("if ids.size(1) > 1:");
    s("bucket = torch.remainder(ids[:, 0:-1] * 1000003 + ids[:, 1:], " + num(m.options.bigram_buckets) + ")", 2);
    s("pair = torch.bitwise_and(keep[:, 0:-1], keep[:, 1:]).to(torch.float32).unsqueeze(-1)", 2);
    s("total = total + (self.bigrams.forward(bucket) * pair).sum(1)", 2);
    s("count = count + pair.sum(1)", 2);
  }
  s("return self.classifier.forward(total / count.clamp_min(1.0)), maps");
  emit_forward(s, "ids: Tensor, mask: Tensor", "ids, mask");
  return s.str();
}

std::string han_source(const models::HierarchicalAttentionNetImpl& m) {
  const std::string width = num(2 * m.options.hidden);
  Source s;
  s.def("forward_with_attention(self, ids: Tensor, mask: Tensor" + std::string(kWithAttention));
  s("assert ids.dim() == 3 and mask.size() == ids.size(), "
    "\"HierarchicalAttentionNet: expected ids [B, S, W] and a mask [B, S, W]\"");
  s("maps: Dict[str, Tensor] = {}");
  s("B = ids.size(0)")("S = ids.size(1)")("W = ids.size(2)");
  s("valid = mask.to(torch.bool).reshape([B * S, W])");
  s("word_counts = valid.sum(1)");
  s("present = word_counts.gt(0).nonzero().squeeze(1)");
  s("sentence_vectors = torch.zeros([B * S, " + width + "], dtype=torch.float32, device=ids.device)");
  s("word_weights = torch.zeros([B * S, W], dtype=torch.float32, device=ids.device)");
  s("if present.numel() > 0:");
  s("words = self.embedding.forward(ids.reshape([B * S, W]).index_select(0, present))", 2);
  s("word_states = self.word_gru.forward(words, word_counts.index_select(0, present))", 2);
  s("pooled, pooled_weights = self.word_attention.forward(word_states, valid.index_select(0, present))", 2);
  s("sentence_vectors = sentence_vectors.index_copy(0, present, pooled)", 2);
  s("word_weights = word_weights.index_copy(0, present, pooled_weights)", 2);
  s("sentence_valid = word_counts.gt(0).reshape([B, S])");
  s("positions = torch.arange(1, S + 1, dtype=torch.int64, device=ids.device).unsqueeze(0)");
  s("sentence_counts = (sentence_valid.to(torch.int64) * positions).amax([1]).clamp_min(1)");
  s("states = self.sentence_gru.forward(sentence_vectors.reshape([B, S, " + width + "]), sentence_counts)");
  s("document, sentence_weights = self.sentence_attention.forward(states, sentence_valid)");
  s("maps[\"word\"] = word_weights.reshape([B, S, W])");
  s("maps[\"sentence\"] = sentence_weights");
  s("return self.classifier.forward(document), maps");
  emit_forward(s, "ids: Tensor, mask: Tensor", "ids, mask");
  return s.str();
}

std::string fusion_source(const models::FusionNetImpl& m) {
  const auto& o = m.options;
  Source s;
  s.def("coordinates(self, h: int, w: int, like: Tensor) -> Tensor");
  s("if h > 1:")("ys = torch.linspace(-1, 1, h, dtype=like.dtype, device=like.device)", 2);
  s("else:")("ys = torch.zeros([1], dtype=like.dtype, device=like.device)", 2);
  s("if w > 1:")("xs = torch.linspace(-1, 1, w, dtype=like.dtype, device=like.device)", 2);
  s("else:")("xs = torch.zeros([1], dtype=like.dtype, device=like.device)", 2);
  s("return torch.stack([xs.view([1, w]).expand([h, w]), ys.view([h, 1]).expand([h, w])]).unsqueeze(0)");
  if (m.position_proj) {  // models::fourier_positions
    s.def("fourier_positions(self, coords: Tensor) -> Tensor");
    s("xy = coords.flatten(2).transpose(1, 2)[0]")("columns: List[Tensor] = []");
    s("for k in range(1, " + num(models::kRegionFrequencies) + " + 1):");
    s("angle = xy * (3.141592653589793 * k / 2.0)", 2)("columns.append(torch.sin(angle))", 2)("columns.append(torch.cos(angle))", 2);
    s("return torch.cat(columns, 1)");
  }
  if (o.cross_focus_bias && o.fusion == "cross") {  // models::region_cells, models::focus_features
    s.def("region_cells(self, h: int, w: int, like: Tensor) -> Tensor");
    s("rows = torch.arange(h, dtype=like.dtype, device=like.device).view([h, 1]).expand([h, w])");
    s("cols = torch.arange(w, dtype=like.dtype, device=like.device).view([1, w]).expand([h, w])");
    s("return torch.stack([cols.reshape([h * w]), rows.reshape([h * w])], 1)");
    s.def("focus_features(self, weights: Tensor, cells: Tensor) -> Tensor");
    s("mean = weights.mean(1)")("focus = torch.matmul(mean, cells)");
    s("offset = cells.view([1, 1, -1, 2]) - focus.unsqueeze(2)");
    s("distance = (offset.square().sum(-1) + 1e-06).sqrt()");
    s("share = mean / mean.amax(-1, True).clamp_min(1e-12)");
    s("return torch.stack([distance, share], -1)");
  }

  s.def("forward_with_attention(self, images: Tensor, ids: Tensor, mask: Tensor, image_index: Optional[Tensor] = None" +
        std::string(kWithAttention));
  s("assert images.dim() == 4 and images.size(1) == " + num(o.in_channels) + ", \"FusionNet: expected images [I, " +
    num(o.in_channels) + ", H, W]\"");
  s("assert ids.dim() == 2 and mask.size() == ids.size(), \"FusionNet: expected ids [Q, L] and a mask [Q, L]\"");
  s("if image_index is None:");
  s("assert images.size(0) == ids.size(0), \"FusionNet: without image_index, one image per question\"", 2);
  s("index = torch.arange(0, ids.size(0), dtype=torch.int64, device=ids.device)", 2);
  s("else:")("index = image_index", 2);
  s("maps: Dict[str, Tensor] = {}");
  s("valid = mask.to(torch.bool)");
  s("x = torch.relu(self.stem_bn.forward(self.stem.forward(images)))");
  emit_blocks(s, m.blocks, m.block_names);
  s("n = x.size(0)")("h = x.size(2)")("w = x.size(3)");
  s("coords = self.coordinates(h, w, x)");
  s("grid = self.region_proj.forward(torch.cat([x, coords.expand([n, 2, h, w])], 1))");
  s("regions = grid.flatten(2).transpose(1, 2)");
  if (m.position_proj) s("regions = regions + self.position_proj.forward(self.fourier_positions(coords)).unsqueeze(0)");
  s("encoded, text_weights = self.text.forward(ids, valid)");
  for (int64_t i = 0; i < o.text.layers; ++i) s("maps[\"text.layer" + num(i) + "\"] = text_weights[" + num(i) + "]");
  s(m.text_proj ? "tokens = self.text_proj.forward(encoded)" : "tokens = encoded");
  s("cls = tokens.select(1, 0)");
  if (o.fusion == "concat" || o.fusion == "late") {
    s("pooled, pool_weights = self.image_pool.forward(regions, None)");
    s("maps[\"image.pool\"] = pool_weights.view([n, 1, h, w])");
    s("image_vec = pooled.index_select(0, index)");
    if (o.fusion == "late") {
      s("return 0.5 * (self.image_head.forward(image_vec) + self.text_head.forward(cls)), maps");
      emit_forward(s, "images: Tensor, ids: Tensor, mask: Tensor, image_index: Optional[Tensor] = None",
                   "images, ids, mask, image_index");
      return s.str();
    }
    s("features = torch.cat([image_vec, cls], 1)");
  } else if (o.fusion == "film") {
    s("y = torch.relu(grid).index_select(0, index)");
    for (size_t i = 0; i < m.film_blocks.size(); ++i) s("y = self.film_block" + std::to_string(i) + ".forward(y, coords, cls)");
    s("features = torch.relu(self.film_out.forward(y)).amax([2, 3])");
  } else {
    if (m.relational) {
      s("regions, relational_weights = self.relational.forward(regions, None)");
      for (int64_t i = 0; i < o.relational_layers; ++i)
        s("maps[\"relational.layer" + num(i) + "\"] = relational_weights[" + num(i) + "]");
    }
    s("keep = valid.view([ids.size(0), 1, 1, ids.size(1)])");
    s("region_index = index");
    if (!m.film_blocks.empty()) {  // conditioning_blocks: each question's copy of the regions
      s("y = regions.transpose(1, 2).reshape([n, " + num(o.dim) + ", h, w]).index_select(0, index)");
      for (size_t i = 0; i < m.film_blocks.size(); ++i)
        s("y = self.condition_block" + std::to_string(i) + ".forward(y, coords, cls)");
      s("regions = y.flatten(2).transpose(1, 2)");
      s("region_index = torch.arange(0, index.size(0), dtype=torch.int64, device=index.device)");
    }
    s("focus: Optional[Tensor] = None");
    if (o.cross_focus_bias) s("cells = self.region_cells(h, w, x)");
    for (size_t i = 0; i < m.cross_layers.size(); ++i) {
      s("tokens, cross_weights = self.cross_layer" + std::to_string(i) +
        ".forward(tokens, keep, regions, region_index, focus)");
      s("maps[\"cross.layer" + std::to_string(i) + "\"] = cross_weights");
      if (o.cross_focus_bias && i + 1 < m.cross_layers.size()) s("focus = self.focus_features(cross_weights, cells)");
    }
    s("features = self.cross_norm.forward(tokens.select(1, 0))");
  }
  s("return self.mlp2.forward(torch.relu(self.mlp1.forward(features))), maps");
  emit_forward(s, "images: Tensor, ids: Tensor, mask: Tensor, image_index: Optional[Tensor] = None",
               "images, ids, mask, image_index");
  return s.str();
}

// ------------------------------------------------------------ the translation

/// The C++ frontend has no Python resolver for dtype names, so the sources'
/// torch.bool / torch.int64 / torch.float32 become ScalarType numbers, as in
/// TorchScript's own serialized code.
std::string resolve_dtypes(std::string source) {
  const std::pair<const char*, c10::ScalarType> names[] = {
      {"torch.bool", torch::kBool}, {"torch.int64", torch::kLong}, {"torch.float32", torch::kFloat}};
  for (const auto& [name, type] : names) {
    const std::string code = std::to_string(static_cast<int>(type));
    for (size_t at = source.find(name); at != std::string::npos; at = source.find(name, at + code.size()))
      source.replace(at, std::string(name).size(), code);
  }
  return source;
}

struct Translation {
  std::string class_name;
  std::string source;  ///< empty for a container without methods (ModuleList)
};

template <typename T>
const T* as(const torch::nn::Module& m) {
  return dynamic_cast<const T*>(&m);
}

Translation translate(const torch::nn::Module& m) {
  using namespace torch::nn;
  if (auto* p = as<LinearImpl>(m)) return {"Linear", linear_source(*p)};
  if (auto* p = as<Conv2dImpl>(m)) return {"Conv2d", conv2d_source(*p)};
  if (auto* p = as<BatchNorm2dImpl>(m)) return {"BatchNorm2d", batch_norm_source(*p)};
  if (auto* p = as<LayerNormImpl>(m)) return {"LayerNorm", layer_norm_source(*p)};
  if (auto* p = as<EmbeddingImpl>(m)) return {"Embedding", embedding_source(*p)};
  if (auto* p = as<GRUImpl>(m)) return {"GRU", gru_source(*p)};
  if (auto* p = as<SequentialImpl>(m)) return {"Sequential", sequential_source(*p)};
  if (as<ModuleListImpl>(m)) return {"ModuleList", ""};
  if (auto* p = as<nn::AttentionPoolImpl>(m)) return {"AttentionPool", attention_pool_source(*p)};
  if (auto* p = as<nn::MultiHeadAttentionImpl>(m)) return {"MultiHeadAttention", multi_head_attention_source(*p)};
  if (as<nn::SqueezeExcitationImpl>(m)) return {"SqueezeExcitation", squeeze_excitation_source()};
  if (as<nn::CbamImpl>(m)) return {"Cbam", cbam_source()};
  if (as<nn::NonLocalImpl>(m)) return {"NonLocal", non_local_source()};
  if (auto* p = as<nn::FilmImpl>(m)) return {"Film", film_source(*p)};
  if (as<nn::TransformerEncoderLayerImpl>(m)) return {"TransformerEncoderLayer", encoder_layer_source()};
  if (auto* p = as<nn::TransformerEncoderImpl>(m)) return {"TransformerEncoder", encoder_source(*p)};
  if (auto* p = as<models::ResidualBlockImpl>(m)) return {"ResidualBlock", residual_block_source(*p)};
  if (auto* p = as<models::TextEncoderImpl>(m)) return {"TextEncoder", text_encoder_source(*p)};
  if (as<models::FilmBlockImpl>(m)) return {"FilmBlock", film_block_source()};
  if (auto* p = as<models::CrossLayerImpl>(m)) return {"CrossLayer", cross_layer_source(*p)};
  if (auto* p = as<models::AttnCNNImpl>(m)) return {"AttnCNN", attn_cnn_source(*p)};
  if (auto* p = as<models::VisionTransformerImpl>(m)) return {"VisionTransformer", vit_source(*p)};
  if (auto* p = as<models::TextTransformerImpl>(m)) return {"TextTransformer", text_transformer_source(*p)};
  if (auto* p = as<models::BagOfEmbeddingsImpl>(m)) return {"BagOfEmbeddings", bag_of_embeddings_source(*p)};
  if (auto* p = as<models::HierarchicalAttentionNetImpl>(m))
    return {"HierarchicalAttentionNet", han_source(*p)};
  if (auto* p = as<models::FusionNetImpl>(m)) return {"FusionNet", fusion_source(*p)};
  throw Error("to_torchscript: no TorchScript translation for " + m.name() +
              " (exportable: attncnn, vit, text_transformer, bag_of_embeddings, han and fusion classifiers)");
}

/// The C++ frontend's resolver knows only `torch` (aten::); the quantized
/// Linear sources also call `quantized.*` (the quantized:: operators).
struct QuantizedResolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name, torch::jit::GraphFunction& m,
                                                         const torch::jit::SourceRange& loc) override {
    if (name == "quantized") return std::make_shared<torch::jit::BuiltinModule>("quantized");
    return torch::jit::nativeResolver()->resolveValue(name, m, loc);
  }
};

/// Packs Linear weights for quantized::linear_dynamic (through TorchScript, which
/// reaches the quantized ops without their C++ headers).
class LinearPacker {
 public:
  explicit LinearPacker(const std::shared_ptr<torch::jit::CompilationUnit>& cu)
      : module_(c10::QualifiedName("__torch__.focus.LinearPacker"), cu, true) {
    module_.define(
        "def pack(self, weight: Tensor, bias: Optional[Tensor]):\n"
        "  return quantized.linear_prepack(weight, bias)\n",
        std::make_shared<QuantizedResolver>());
  }
  /// The packed int8 weights: per-tensor symmetric, scale = max|w| / 127.5, as PyTorch's default weight observer.
  c10::IValue pack(const torch::Tensor& weight, const torch::Tensor& bias) {
    const double amax = weight.abs().max().item<double>();
    const double scale = amax > 0 ? amax / 127.5 : 1.0;
    auto q = torch::quantize_per_tensor(weight.contiguous(), scale, 0, torch::kQInt8);
    return module_.get_method("pack")({q, bias.defined() ? c10::IValue(bias) : c10::IValue()});
  }

 private:
  JitModule module_;
};

/// Activations are quantized per call to 7 bits (reduce_range), PyTorch's default
/// for x86: oneDNN multiplies u8 x s8 pairs into saturating 16-bit sums where the
/// CPU lacks VNNI, and with 8-bit activations those sums overflow (measured here,
/// an AVX2 CPU: 17% relative error on a 64-wide layer instead of 2%).
std::string quantized_linear_source() {
  Source s;
  s.def("forward(self, x: Tensor) -> Tensor")("return quantized.linear_dynamic(x, self._packed_params, True)");
  return s.str();
}

JitModule convert(const torch::nn::Module& m, const std::shared_ptr<torch::jit::CompilationUnit>& cu,
                  LinearPacker* packer) {
  torch::NoGradGuard no_grad;
  if (auto* linear = as<torch::nn::LinearImpl>(m); linear && packer) {
    JitModule out(c10::QualifiedName("__torch__.focus.QuantizedLinear"), cu, /*shouldMangle=*/true);
    auto packed = packer->pack(linear->weight.detach(), linear->bias.defined() ? linear->bias.detach() : torch::Tensor());
    out.register_attribute("_packed_params", packed.type(), packed);
    out.define(quantized_linear_source(), std::make_shared<QuantizedResolver>());
    return out;
  }
  const Translation t = translate(m);  // first, so an unsupported model fails before any copying
  JitModule out(c10::QualifiedName("__torch__.focus." + t.class_name), cu, /*shouldMangle=*/true);
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.register_parameter(p.key(), p.value().detach().clone(), /*is_buffer=*/false);
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.register_buffer(b.key(), b.value().detach().clone());
  for (const auto& c : m.named_children()) {
    if (as<torch::nn::DropoutImpl>(*c.value())) continue;  // the identity in evaluation mode
    out.register_module(c.key(), convert(*c.value(), cu, packer));
  }
  if (!t.source.empty()) {
    try {
      out.define(resolve_dtypes(t.source));
    } catch (const std::exception& e) {
      throw Error("to_torchscript: the TorchScript source for " + t.class_name + " does not compile: " + e.what());
    }
  }
  return out;
}

}  // namespace

torch::jit::Module to_torchscript(const models::Classifier& model, const TorchScriptOptions& options) {
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  std::unique_ptr<LinearPacker> packer;
  if (options.quantize_linear) {
    const auto engines = at::globalContext().supportedQEngines();
    if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) != engines.end())
      at::globalContext().setQEngine(at::QEngine::ONEDNN);
    else if (std::find(engines.begin(), engines.end(), at::QEngine::QNNPACK) != engines.end())
      at::globalContext().setQEngine(at::QEngine::QNNPACK);
    else
      throw Error("to_torchscript: this LibTorch has no quantized engine (oneDNN or QNNPACK) for int8");
    packer = std::make_unique<LinearPacker>(cu);
  }
  auto out = convert(model, cu, packer.get());
  out.eval();
  return out;
}

}  // namespace focus::deploy
