#include "focus/nn/multi_head_attention.h"

#include <cmath>

#include "focus/nn/batched_matmul.h"
#include "focus/nn/linear.h"
#include "focus/nn/masked_softmax.h"

namespace focus::nn {

MultiHeadAttentionImpl::MultiHeadAttentionImpl(const MultiHeadAttentionOptions& options_) : options(options_) {
  reset();
}

void MultiHeadAttentionImpl::reset() {
  const int64_t e = options.embed_dim(), h = options.num_heads();
  TORCH_CHECK(e > 0 && h > 0 && e % h == 0, "MultiHeadAttention: embed_dim (", e,
              ") must be a positive multiple of num_heads (", h, ")");
  const int64_t kdim = options.kdim() > 0 ? options.kdim() : e;
  const int64_t vdim = options.vdim() > 0 ? options.vdim() : e;
  auto lin = [&](int64_t in) { return torch::nn::Linear(torch::nn::LinearOptions(in, e).bias(options.bias())); };
  q_proj = register_module("q_proj", lin(e));
  k_proj = register_module("k_proj", lin(kdim));
  v_proj = register_module("v_proj", lin(vdim));
  out_proj = register_module("out_proj", lin(e));
  attn_dropout = register_module("attn_dropout", torch::nn::Dropout(options.dropout()));
  for (auto* l : {&q_proj, &k_proj, &v_proj}) {
    torch::nn::init::xavier_uniform_((*l)->weight);
    if (options.bias()) torch::nn::init::zeros_((*l)->bias);
  }
  if (options.bias()) torch::nn::init::zeros_(out_proj->bias);
}

void MultiHeadAttentionImpl::pretty_print(std::ostream& stream) const {
  stream << "focus::nn::MultiHeadAttention(embed_dim=" << options.embed_dim() << ", num_heads=" << options.num_heads()
         << ", dropout=" << options.dropout() << ")";
}

AttentionOutput MultiHeadAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& key,
                                                const torch::Tensor& value, const AttentionMasks& masks) {
  const int64_t e = options.embed_dim();
  TORCH_CHECK(query.dim() == 3 && query.size(2) == e, "MultiHeadAttention: query must be [B, Lq, ", e, "], got ",
              query.sizes());
  TORCH_CHECK(key.dim() == 3 && value.dim() == 3 && key.size(0) == query.size(0) && value.size(0) == query.size(0) &&
                  key.size(1) == value.size(1),
              "MultiHeadAttention: key/value must be [B, Lk, *] matching query batch, got key ", key.sizes(),
              " value ", value.sizes());
  return attend(linear(q_proj, query), linear(k_proj, key), linear(v_proj, value), masks);
}

AttentionOutput MultiHeadAttentionImpl::forward_grouped(const torch::Tensor& query, const torch::Tensor& key,
                                                        const torch::Tensor& value, const torch::Tensor& group,
                                                        const AttentionMasks& masks) {
  const int64_t e = options.embed_dim();
  TORCH_CHECK(query.dim() == 3 && query.size(2) == e, "MultiHeadAttention: query must be [B, Lq, ", e, "], got ",
              query.sizes());
  TORCH_CHECK(key.dim() == 3 && value.dim() == 3 && key.size(0) == value.size(0) && key.size(1) == value.size(1),
              "MultiHeadAttention: grouped key/value must be [G, Lk, *], got key ", key.sizes(), " value ",
              value.sizes());
  TORCH_CHECK(group.dim() == 1 && group.size(0) == query.size(0) && group.scalar_type() == torch::kLong,
              "MultiHeadAttention: group must be int64 [B] = [", query.size(0), "], got ", group.sizes());
  // Project each key/value set once, then hand every query row its set.
  return attend(linear(q_proj, query), linear(k_proj, key).index_select(0, group),
                linear(v_proj, value).index_select(0, group), masks);
}

AttentionOutput MultiHeadAttentionImpl::attend(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                               const torch::Tensor& v_in, const AttentionMasks& masks) {
  const int64_t e = options.embed_dim(), h = options.num_heads(), d = e / h;
  const int64_t b = q_in.size(0), lq = q_in.size(1), lk = k_in.size(1);

  auto split = [&](const torch::Tensor& x, int64_t len) { return x.view({b, len, h, d}).transpose(1, 2); };
  auto q = split(q_in, lq);  // [B, H, Lq, d]
  auto k = split(k_in, lk);
  auto v = split(v_in, lk);

  // Scale the queries rather than the scores: a pass over [B, H, Lq, d], not [B, H, Lq, Lk].
  auto scores = batched_matmul(q * (1.0 / std::sqrt(static_cast<double>(d))), k.transpose(-2, -1));  // [B,H,Lq,Lk]
  if (masks.bias.defined()) scores.add_(masks.bias);  // in place: the scores are a temporary

  // Build one "keep" mask broadcastable to [B, H, Lq, Lk].
  torch::Tensor keep;
  auto combine = [&keep](const torch::Tensor& k2) { keep = keep.defined() ? keep.logical_and(k2) : k2; };
  if (masks.key_padding.defined()) {
    TORCH_CHECK(masks.key_padding.dim() == 2 && masks.key_padding.size(0) == b && masks.key_padding.size(1) == lk,
                "MultiHeadAttention: key_padding mask must be [B, Lk] = [", b, ", ", lk, "], got ",
                masks.key_padding.sizes());
    combine(masks.key_padding.to(torch::kBool).logical_not().view({b, 1, 1, lk}));
  }
  if (masks.attn.defined()) {
    const auto& m = masks.attn;
    TORCH_CHECK((m.dim() == 2 && m.size(0) == lq && m.size(1) == lk) ||
                    (m.dim() == 3 && m.size(0) == b && m.size(1) == lq && m.size(2) == lk),
                "MultiHeadAttention: attn mask must be [Lq, Lk] or [B, Lq, Lk], got ", m.sizes());
    auto k2 = m.to(torch::kBool).logical_not();
    combine(m.dim() == 2 ? k2.view({1, 1, lq, lk}) : k2.view({b, 1, lq, lk}));
  }
  if (masks.causal) {
    TORCH_CHECK(lq == lk, "MultiHeadAttention: a causal mask needs Lq == Lk, got ", lq, " and ", lk);
    combine(torch::ones({lq, lk}, q_in.options().dtype(torch::kBool)).tril().view({1, 1, lq, lk}));
  }

  auto weights = masked_softmax_(scores, keep);  // the scores are a temporary
  auto context = batched_matmul(attn_dropout(weights), v);  // [B, H, Lq, d]
  auto merged = context.transpose(1, 2).contiguous().view({b, lq, e});
  return {linear(out_proj, merged), weights};
}

}  // namespace focus::nn
