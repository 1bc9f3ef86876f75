#include "focus/nn/multi_head_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "focus/nn/batched_matmul.h"
#include "focus/nn/linear.h"
#include "focus/nn/masked_softmax.h"

namespace focus::nn {

namespace {

struct GroupSlots {
  torch::Tensor slot;   ///< int64 [B]: the row's position among its set's rows
  int64_t per_set = 0;  ///< the largest set's row count; 0 when sets are not worth forming
};

/// Numbers the rows of each set 0, 1, ... in order. Sets are formed only when
/// they share their keys among enough rows: padded to the largest set, they
/// may hold at most twice the rows there are, and fewer sets than rows.
GroupSlots group_slots(const torch::Tensor& group, int64_t sets) {
  const auto cpu = group.to(torch::kCPU).contiguous();
  const auto* index = cpu.data_ptr<int64_t>();
  const int64_t rows = cpu.numel();
  if (sets >= rows) return {};
  std::vector<int64_t> count(static_cast<size_t>(sets), 0);
  auto slot = torch::empty({rows}, torch::kLong);
  auto* out = slot.data_ptr<int64_t>();
  int64_t largest = 0;
  for (int64_t r = 0; r < rows; ++r) {
    TORCH_CHECK(index[r] >= 0 && index[r] < sets, "MultiHeadAttention: group ", index[r], " of row ", r,
                " is not one of the ", sets, " key sets");
    out[r] = count[static_cast<size_t>(index[r])]++;
    largest = std::max(largest, out[r] + 1);
  }
  if (sets * largest > 2 * rows) return {};
  return {slot.to(group.device()), largest};
}

}  // namespace

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
  // Sets are formed only with no per-row masks (a bias is regrouped with the rows).
  const bool per_row_masks = masks.key_padding.defined() || masks.attn.defined() || masks.causal;
  const auto slots = per_row_masks ? GroupSlots{} : group_slots(group, key.size(0));
  if (slots.per_set == 0) {
    // Project each key/value set once, then hand every query row its set.
    return attend(linear(q_proj, query), linear(k_proj, key).index_select(0, group),
                  linear(v_proj, value).index_select(0, group), masks);
  }
  // Many rows per set: the rows of each set become one longer query sequence
  // [G, n * Lq, E] against the set's keys (slot j of set g holds its j-th row;
  // unused slots are zeros and are dropped again). The products are then G * H
  // of [n * Lq, d] x [d, Lk] rather than B * H small ones, and the keys and
  // values are not copied for every row.
  using torch::indexing::Slice;
  const int64_t h = options.num_heads(), b = query.size(0), lq = query.size(1);
  const int64_t g = key.size(0), n = slots.per_set, lk = key.size(1);
  const auto& set = group;
  const auto& slot = slots.slot;
  auto q = linear(q_proj, query);
  using Indices = c10::List<c10::optional<torch::Tensor>>;
  auto q_sets = torch::index_put(torch::zeros({g, n, lq, e}, q.options()), Indices({set, slot}), q).view({g, n * lq, e});
  AttentionMasks set_masks;
  if (masks.bias.defined()) {
    const auto bias = masks.bias.expand({b, h, lq, lk});
    set_masks.bias = torch::index_put(torch::zeros({g, h, n, lq, lk}, bias.options()), Indices({set, c10::nullopt, slot}),
                                      bias)
                         .view({g, h, n * lq, lk});
  }
  auto out = attend(q_sets, linear(k_proj, key), linear(v_proj, value), set_masks);
  return {out.output.view({g, n, lq, e}).index({set, slot}),
          out.weights.view({g, h, n, lq, lk}).index({set, Slice(), slot})};
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
