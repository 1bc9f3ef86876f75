"""Eager PyTorch re-implementations of four Focus architectures.

Each class mirrors a C++ module of lib/ layer for layer: the same submodules in
the same registration order and under the same names (so parameter names and
counts line up with a Focus checkpoint), the same forward math, and the same
explicit initialisation. Defaults and option checks follow the parse_*
functions and the option structs of the C++ headers.

    build(recipe["model"], input_spec) -> nn.Module
    count_parameters(module)            -> parameters that require gradients

Inputs, as in the C++ models:
    attncnn, vit       images [B, C, H, W] float
    text_transformer   ids [B, L] int64, mask [B, L] bool (True = real token)
    fusion             ids [Q, L], mask [Q, L], images [I, C, H, W], image_index [Q] int64
Every model returns logits [B, classes].

Run `python3 models.py` for a self-check against the parameter counts Focus
reports for the bench recipes (runs/bench-*/summary.json).
"""

import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------- nn building blocks


def masked_softmax(scores, keep, in_place=False):
    """lib/src/nn/masked_softmax.cpp: softmax over the last dim ignoring entries
    where `keep` is False (an additive 0 / -inf bias); fully masked rows give zeros
    instead of NaN. in_place: add the bias into `scores` (masked_softmax_)."""
    if keep is None:
        return torch.softmax(scores, -1)
    drop = keep.logical_not()
    if not bool(drop.any()):
        return torch.softmax(scores, -1)
    bias = torch.zeros(drop.shape, dtype=scores.dtype, device=scores.device).masked_fill_(drop, float("-inf"))
    weights = torch.softmax(scores.add_(bias) if in_place else scores + bias, -1)
    empty = drop.all(-1, keepdim=True)
    return weights.masked_fill(empty, 0.0) if bool(empty.any()) else weights


def kaiming_fan_out_(weight):
    """torch::nn::init::kaiming_normal_(w, 0.0, torch::kFanOut, torch::kReLU)."""
    nn.init.kaiming_normal_(weight, a=0.0, mode="fan_out", nonlinearity="relu")


class SqueezeExcitation(nn.Module):
    """lib/src/nn/squeeze_excitation.cpp. Returns (output, weights [B, C])."""

    def __init__(self, channels, reduction=16, min_hidden=4):
        super().__init__()
        hidden = max(channels // reduction, min_hidden)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x):
        weights = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean((2, 3))))))
        return x * weights.unsqueeze(-1).unsqueeze(-1), weights


class Cbam(nn.Module):
    """lib/src/nn/cbam.cpp. Returns (output, channel_weights [B, C], spatial_map [B, 1, H, W])."""

    def __init__(self, channels, reduction=16, min_hidden=4, spatial_kernel=7):
        super().__init__()
        if spatial_kernel % 2 != 1:
            raise ValueError(f"Cbam: spatial_kernel must be odd, got {spatial_kernel}")
        hidden = max(channels // reduction, min_hidden)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.spatial = nn.Conv2d(2, 1, spatial_kernel, padding=spatial_kernel // 2, bias=False)

    def _mlp(self, v):
        return self.fc2(torch.relu(self.fc1(v)))

    def forward(self, x):
        channel_weights = torch.sigmoid(self._mlp(x.mean((2, 3))) + self._mlp(x.amax((2, 3))))
        refined = x * channel_weights.unsqueeze(-1).unsqueeze(-1)
        descriptor = torch.cat([refined.mean(1, keepdim=True), refined.amax(1, keepdim=True)], 1)
        spatial_map = torch.sigmoid(self.spatial(descriptor))
        return refined * spatial_map, channel_weights, spatial_map


class NonLocal(nn.Module):
    """lib/src/nn/non_local.cpp (embedded Gaussian). Returns (output, affinity [B, HW, HW])."""

    def __init__(self, channels, inter_channels=0):
        super().__init__()
        inner = inter_channels if inter_channels > 0 else max(channels // 2, 1)
        self.theta = nn.Conv2d(channels, inner, 1)
        self.phi = nn.Conv2d(channels, inner, 1)
        self.g = nn.Conv2d(channels, inner, 1)
        self.w_z = nn.Conv2d(inner, channels, 1)
        self.bn = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x):
        b, h, w = x.size(0), x.size(2), x.size(3)
        t = self.theta(x).flatten(2).transpose(1, 2)  # [B, HW, C']
        p = self.phi(x).flatten(2)                    # [B, C', HW]
        v = self.g(x).flatten(2).transpose(1, 2)      # [B, HW, C']
        affinity = torch.softmax(torch.bmm(t, p), -1)
        y = torch.bmm(affinity, v).transpose(1, 2).reshape(b, -1, h, w)
        return self.bn(self.w_z(y)) + x, affinity


class AttentionPool(nn.Module):
    """lib/src/nn/attention_pool.cpp. inputs [B, N, D], valid bool [B, N] (True = real).
    Returns (pooled [B, D], weights [B, N])."""

    def __init__(self, dim, hidden=0):
        super().__init__()
        scored = dim
        self.project = None
        if hidden > 0:
            self.project = nn.Linear(dim, hidden)
            scored = hidden
        self.score = nn.Linear(scored, 1, bias=False)

    def forward(self, inputs, valid=None):
        scored = torch.tanh(self.project(inputs)) if self.project is not None else inputs
        scores = self.score(scored).squeeze(-1)
        weights = masked_softmax(scores, valid.bool()) if valid is not None else torch.softmax(scores, -1)
        return torch.bmm(weights.unsqueeze(1), inputs).squeeze(1), weights


class MultiHeadAttention(nn.Module):
    """lib/src/nn/multi_head_attention.cpp: separate q/k/v projections (Xavier-uniform
    weights, zero biases), out_proj with default weights and a zero bias.
    Returns (output [B, Lq, E], weights [B, H, Lq, Lk] after masking, before dropout)."""

    def __init__(self, embed_dim, num_heads, kdim=0, vdim=0, dropout=0.0, bias=True):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads != 0:
            raise ValueError(f"MultiHeadAttention: embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.use_bias = embed_dim, num_heads, bias
        kdim = kdim if kdim > 0 else embed_dim
        vdim = vdim if vdim > 0 else embed_dim
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(kdim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(vdim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        for lin in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.xavier_uniform_(lin.weight)
            if bias:
                nn.init.zeros_(lin.bias)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def forward(self, query, key, value, key_padding=None, attn_mask=None, causal=False):
        """key_padding bool [B, Lk], True = padding; attn_mask bool [Lq, Lk] or [B, Lq, Lk], True = forbidden."""
        return self._attend(self.q_proj(query), self.k_proj(key), self.v_proj(value), key_padding, attn_mask, causal)

    def forward_grouped(self, query, key, value, group, key_padding=None, attn_mask=None, causal=False, bias=None):
        """key/value [G, Lk, *] projected once per set, then handed to each query row by group int64 [B];
        bias: float, broadcastable to [B, H, Lq, Lk], added to the scaled scores."""
        return self._attend(self.q_proj(query), self.k_proj(key).index_select(0, group),
                            self.v_proj(value).index_select(0, group), key_padding, attn_mask, causal, bias)

    def _attend(self, q_in, k_in, v_in, key_padding, attn_mask, causal, bias=None):
        e, h = self.embed_dim, self.num_heads
        d = e // h
        b, lq, lk = q_in.size(0), q_in.size(1), k_in.size(1)

        def split(x, length):
            return x.view(b, length, h, d).transpose(1, 2)  # [B, H, L, d]

        q, k, v = split(q_in, lq), split(k_in, lk), split(v_in, lk)
        scores = torch.matmul(q * (1.0 / math.sqrt(d)), k.transpose(-2, -1))  # [B, H, Lq, Lk]
        if bias is not None:
            scores = scores + bias

        keep = None

        def combine(k2):
            return k2 if keep is None else keep.logical_and(k2)

        if key_padding is not None:
            keep = combine(key_padding.bool().logical_not().view(b, 1, 1, lk))
        if attn_mask is not None:
            k2 = attn_mask.bool().logical_not()
            keep = combine(k2.view(1, 1, lq, lk) if attn_mask.dim() == 2 else k2.view(b, 1, lq, lk))
        if causal:
            keep = combine(torch.ones(lq, lk, dtype=torch.bool, device=q_in.device).tril().view(1, 1, lq, lk))

        weights = masked_softmax(scores, keep, in_place=True)
        context = torch.matmul(self.attn_dropout(weights), v)  # [B, H, Lq, d]
        merged = context.transpose(1, 2).contiguous().view(b, lq, e)
        return self.out_proj(merged), weights


class TransformerEncoderLayer(nn.Module):
    """lib/src/nn/transformer_encoder.cpp, pre-norm:
    x = x + Dropout(MHA(LN(x)));  x = x + Dropout(FF2(GELU(FF1(LN(x)))))."""

    def __init__(self, d_model, num_heads, ff_dim=0, dropout=0.1, attention_dropout=0.0, layer_norm_eps=1e-5):
        super().__init__()
        ff = ff_dim if ff_dim > 0 else 4 * d_model
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.attention = MultiHeadAttention(d_model, num_heads, dropout=attention_dropout)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.ff1 = nn.Linear(d_model, ff)
        self.ff2 = nn.Linear(ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, key_padding=None):
        normed = self.norm1(x)
        attended, weights = self.attention(normed, normed, normed, key_padding=key_padding)
        y = x + self.dropout(attended)
        y = y + self.dropout(self.ff2(F.gelu(self.ff1(self.norm2(y)))))
        return y, weights


class TransformerEncoder(nn.Module):
    """lib/src/nn/transformer_encoder.cpp: a stack of pre-norm layers and a final LayerNorm.
    Returns (output, [per-layer weights] if return_weights else [])."""

    def __init__(self, num_layers, d_model, num_heads, ff_dim=0, dropout=0.1, attention_dropout=0.0,
                 layer_norm_eps=1e-5, final_norm=True):
        super().__init__()
        if num_layers <= 0:
            raise ValueError("TransformerEncoder: num_layers must be positive")
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, num_heads, ff_dim, dropout, attention_dropout, layer_norm_eps)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None

    # Inference runs the batch through the stack in chunks of about this many tokens.
    CHUNK_TOKENS = 512

    def forward(self, x, key_padding=None, return_weights=False):
        chunk = max(1, self.CHUNK_TOKENS // max(1, x.size(1)))
        if return_weights or torch.is_grad_enabled() or chunk >= x.size(0):
            return self._run(x, key_padding, return_weights)
        parts = [self._run(x.narrow(0, i, min(chunk, x.size(0) - i)),
                           None if key_padding is None else key_padding.narrow(0, i, min(chunk, x.size(0) - i)),
                           False)[0]
                 for i in range(0, x.size(0), chunk)]
        return torch.cat(parts), []

    def _run(self, x, key_padding, return_weights):
        weights = []
        y = x
        for layer in self.layers:
            y, w = layer(y, key_padding)
            if return_weights:
                weights.append(w)
        return (self.norm(y) if self.norm is not None else y), weights


class Film(nn.Module):
    """lib/src/nn/film.cpp: gamma = 1 + W z and beta from a linear generator (random, or zero with identity_init)."""

    def __init__(self, channels, condition_dim, identity_init=False):
        super().__init__()
        self.channels = channels
        self.generator = nn.Linear(condition_dim, 2 * channels)
        if identity_init:
            nn.init.zeros_(self.generator.weight)
            nn.init.zeros_(self.generator.bias)

    def forward(self, x, condition):
        c = self.channels
        params = self.generator(condition)
        shape = [x.size(0), c] + [1] * (x.dim() - 2)
        gamma = 1 + params.narrow(1, 0, c).view(shape)
        beta = params.narrow(1, c, c).view(shape)
        return x * gamma + beta


# ---------------------------------------------------------------- AttnCNN


class ResidualBlock(nn.Module):
    """lib/src/models/attn_cnn.cpp ResidualBlockImpl: conv3x3-BN-ReLU-conv3x3-BN, SE/CBAM on the
    residual branch, identity or 1x1 projection shortcut, ReLU, then non-local if asked for.
    Every convolution inside the block (CBAM and non-local ones included) gets Kaiming-normal
    fan-out weights."""

    def __init__(self, cin, cout, stride, attention, reduction, zero_init):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        self.se = SqueezeExcitation(cout, reduction) if attention == "se" else None
        self.cbam = Cbam(cout, reduction) if attention == "cbam" else None
        # "nonlocal" is a Python keyword: register it under the C++ name by hand.
        self.add_module("nonlocal", NonLocal(cout) if attention == "nonlocal" else None)
        for m in self.modules():
            if m is not self and isinstance(m, nn.Conv2d):
                kaiming_fan_out_(m.weight)
        if zero_init:
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.se is not None:
            y = self.se(y)[0]
        elif self.cbam is not None:
            y = self.cbam(y)[0]
        y = torch.relu(y + (self.shortcut(x) if self.shortcut is not None else x))
        non_local = self._modules["nonlocal"]
        if non_local is not None:
            y = non_local(y)[0]
        return y


def _residual_stages(module, prefix, channels, stages, reduction, zero_init):
    """Registers the blocks of `stages` on `module` as <prefix>stage<s>_block<b>, in C++ order.
    Returns (block names, output channels)."""
    names = []
    for s, st in enumerate(stages):
        for b in range(st["blocks"]):
            block = ResidualBlock(channels, st["channels"], st["stride"] if b == 0 else 1, st["attention"],
                                  reduction, zero_init)
            names.append(f"{prefix}stage{s + 1}_block{b}")
            module.add_module(names[-1], block)
            channels = st["channels"]
    return names, channels


class AttnCNN(nn.Module):
    """lib/src/models/attn_cnn.cpp AttnCNNImpl."""

    def __init__(self, in_channels, num_classes, stem_channels, stages, head, dropout, reduction,
                 zero_init_residual=False):
        super().__init__()
        if not stages:
            raise ValueError("AttnCNN: needs at least one stage")
        self.in_channels = in_channels
        self.stem = nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(stem_channels)
        kaiming_fan_out_(self.stem.weight)
        self._block_names, channels = _residual_stages(self, "", stem_channels, stages, reduction,
                                                       zero_init_residual)
        self.pool = AttentionPool(channels) if head == "attention_pool" else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, images):
        if images.dim() != 4 or images.size(1) != self.in_channels:
            raise ValueError(f"AttnCNN: expected images [B, {self.in_channels}, H, W], got {list(images.shape)}")
        x = torch.relu(self.stem_bn(self.stem(images)))
        for name in self._block_names:
            x = self._modules[name](x)
        if self.pool is not None:
            features = self.pool(x.flatten(2).transpose(1, 2))[0]  # positions as the set to pool
        else:
            features = x.mean((2, 3))
        return self.classifier(self.dropout(features))


# ---------------------------------------------------------------- ViT


class VisionTransformer(nn.Module):
    """lib/src/models/vision_transformer.cpp: strided-conv patch embedding, zero [CLS] token,
    learned positions (randn * 0.02), dropout, pre-norm encoder, linear head on [CLS]."""

    def __init__(self, in_channels, image_height, image_width, num_classes, patch, dim, layers, heads, ff_dim,
                 dropout, attention_dropout):
        super().__init__()
        if image_height % patch != 0 or image_width % patch != 0:
            raise ValueError(f"vit: patch {patch} does not divide the image size {image_height}x{image_width}")
        self.shape = (in_channels, image_height, image_width)
        self.dim = dim
        patches = (image_height // patch) * (image_width // patch)
        self.patch_embedding = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.positions = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        self.dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(layers, dim, heads, ff_dim, dropout, attention_dropout)
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, images):
        if images.dim() != 4 or tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"VisionTransformer: expected images [B, {self.shape}], got {list(images.shape)}")
        tokens = self.patch_embedding(images).flatten(2).transpose(1, 2)  # [B, P, dim]
        tokens = torch.cat([self.cls_token.expand(tokens.size(0), 1, self.dim), tokens], 1) + self.positions
        encoded = self.encoder(self.dropout(tokens))[0]
        return self.classifier(encoded.select(1, 0))


# ---------------------------------------------------------------- text


def sinusoidal_positions(length, dim):
    """lib/src/models/text_encoder.cpp sinusoidal_positions: [length, dim]."""
    position = torch.arange(length, dtype=torch.float).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float) * (-math.log(10000.0) / float(dim)))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)
    return table


class TextEncoder(nn.Module):
    """lib/src/models/text_encoder.cpp: token embedding (padding_idx 0, N(0, 0.02), row 0 zero)
    + positions (learned randn * 0.02, or a fixed sinusoidal buffer), dropout, pre-norm encoder
    with padding keys masked. Returns (hidden [B, L, dim], per-layer weights)."""

    def __init__(self, vocab_size, max_length, dim, layers, heads, ff_dim, positions, dropout, attention_dropout):
        super().__init__()
        if vocab_size <= 0 or max_length <= 0:
            raise ValueError("TextEncoder: vocab_size and max_length must be set")
        self.max_length = max_length
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, 0.0, 0.02)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        if positions == "learned":
            self.positions = nn.Parameter(torch.randn(max_length, dim) * 0.02)
        else:
            self.register_buffer("positions", sinusoidal_positions(max_length, dim))
        self.dropout = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(layers, dim, heads, ff_dim, dropout, attention_dropout)

    def forward(self, ids, valid=None, return_weights=False):
        if ids.dim() != 2:
            raise ValueError(f"TextEncoder: expected token ids [B, L], got {list(ids.shape)}")
        length = ids.size(1)
        if length > self.max_length:
            raise ValueError(f"TextEncoder: sequence of {length} tokens is longer than max_length {self.max_length}")
        x = self.embedding(ids) + self.positions[:length].unsqueeze(0)
        key_padding = valid.logical_not() if valid is not None else None
        return self.encoder(self.dropout(x), key_padding, return_weights)


class TextTransformer(nn.Module):
    """lib/src/models/text_transformer.cpp: TextEncoder, then the [CLS] state or attention pooling
    over real tokens, dropout (head_dropout) and a linear classifier."""

    def __init__(self, encoder_options, num_classes, head, head_dropout):
        super().__init__()
        self.encoder = TextEncoder(**encoder_options)
        self.pool = AttentionPool(encoder_options["dim"]) if head == "attention_pool" else None
        self.dropout = nn.Dropout(head_dropout)
        self.classifier = nn.Linear(encoder_options["dim"], num_classes)

    def forward(self, ids, mask):
        if mask is None:
            raise ValueError("TextTransformer: the batch has no padding mask")
        encoded = self.encoder(ids, mask)[0]
        summary = self.pool(encoded, mask)[0] if self.pool is not None else encoded.select(1, 0)
        return self.classifier(self.dropout(summary))


# ---------------------------------------------------------------- FusionNet


def coordinate_grid(h, w, device=None, dtype=torch.float):
    """lib/src/models/fusion_net.cpp coordinate_grid: x and y of every cell in [-1, 1], [1, 2, h, w]."""
    ys = torch.linspace(-1, 1, h, device=device, dtype=dtype) if h > 1 else torch.zeros(1, device=device, dtype=dtype)
    xs = torch.linspace(-1, 1, w, device=device, dtype=dtype) if w > 1 else torch.zeros(1, device=device, dtype=dtype)
    return torch.stack([xs.view(1, w).expand(h, w), ys.view(h, 1).expand(h, w)]).unsqueeze(0)


REGION_FREQUENCIES = 4  # models::kRegionFrequencies


def region_cells(h, w, device=None, dtype=torch.float):
    """lib/src/models/fusion_net.cpp region_cells: (column, row) of every cell, row-major, [h * w, 2]."""
    rows = torch.arange(h, device=device, dtype=dtype).view(h, 1).expand(h, w)
    cols = torch.arange(w, device=device, dtype=dtype).view(1, w).expand(h, w)
    return torch.stack([cols.reshape(h * w), rows.reshape(h * w)], 1)


FOCUS_FEATURES = 2  # models::kFocusFeatures


def focus_features(weights, cells):
    """lib/src/models/fusion_net.cpp focus_features: weights [Q, H, L, R], a = their mean over heads ->
    [Q, L, R, 2]: (distance of every region from each token's focus sum_r a_r cell_r, a_r / max_r a_r)."""
    mean = weights.mean(1)
    focus = torch.matmul(mean, cells)  # [Q, L, 2]
    offset = cells.view(1, 1, -1, 2) - focus.unsqueeze(2)
    distance = (offset.square().sum(-1) + 1e-6).sqrt()
    share = mean / mean.amax(-1, keepdim=True).clamp_min(1e-12)
    return torch.stack([distance, share], -1)


def fourier_positions(coords):
    """lib/src/models/fusion_net.cpp fourier_positions: per frequency k, sin and cos of (pi k / 2) x and y,
    [h * w, 4 * REGION_FREQUENCIES]."""
    xy = coords.flatten(2).transpose(1, 2)[0]
    columns = []
    for k in range(1, REGION_FREQUENCIES + 1):
        angle = xy * (math.pi * k / 2.0)
        columns += [torch.sin(angle), torch.cos(angle)]
    return torch.cat(columns, 1)


class FilmBlock(nn.Module):
    """lib/src/models/fusion_net.cpp FilmBlockImpl: 1x1 conv over features + coordinates, ReLU (y),
    3x3 conv, BN without affine, FiLM, ReLU, plus y."""

    def __init__(self, channels, condition_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(channels + 2, channels, 1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.film = Film(channels, condition_dim)
        kaiming_fan_out_(self.conv1.weight)
        kaiming_fan_out_(self.conv2.weight)

    def forward(self, x, coords, condition):
        y = torch.relu(self.conv1(torch.cat([x, coords.expand(x.size(0), 2, x.size(2), x.size(3))], 1)))
        return y + torch.relu(self.film(self.norm(self.conv2(y)), condition))


class CrossLayer(nn.Module):
    """lib/src/models/fusion_net.cpp CrossLayerImpl (pre-norm): token self-attention with padding
    masked, attention from tokens to their own image's regions, feed-forward (4 * dim, with a
    dropout between GELU and the second linear). Returns (tokens, cross weights [Q, H, L, R])."""

    def __init__(self, dim, heads, dropout, focus_bias=False):
        super().__init__()
        self.heads = heads
        self.norm_self = nn.LayerNorm(dim)
        self.norm_query = nn.LayerNorm(dim)
        self.norm_regions = nn.LayerNorm(dim)
        self.norm_ff = nn.LayerNorm(dim)
        self.self_attention = MultiHeadAttention(dim, heads)
        self.cross_attention = MultiHeadAttention(dim, heads)
        self.ff1 = nn.Linear(dim, 4 * dim)
        self.ff2 = nn.Linear(4 * dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.focus_coefficients = None
        if focus_bias:  # zero at the start
            self.focus_coefficients = nn.Linear(dim, heads * FOCUS_FEATURES)
            nn.init.zeros_(self.focus_coefficients.weight)
            nn.init.zeros_(self.focus_coefficients.bias)

    def forward(self, tokens, padding, regions, image_index, features=None):
        if (self.focus_coefficients is None) != (features is None):
            raise ValueError("CrossLayer: focus features go with a focus bias and only with one")
        h = self.norm_self(tokens)
        x = tokens + self.dropout(self.self_attention(h, h, h, key_padding=padding)[0])
        r = self.norm_regions(regions)
        query = self.norm_query(x)
        bias = None
        if features is not None:  # [Q, L, H, k] x [Q, L, k, R] -> [Q, H, L, R]
            c = self.focus_coefficients(query).view(x.size(0), x.size(1), self.heads, FOCUS_FEATURES)
            bias = torch.matmul(c, features.transpose(-1, -2)).transpose(1, 2)
        cross, weights = self.cross_attention.forward_grouped(query, r, r, image_index, bias=bias)
        x = x + self.dropout(cross)
        x = x + self.dropout(self.ff2(self.dropout(F.gelu(self.ff1(self.norm_ff(x))))))
        return x, weights


class FusionNet(nn.Module):
    """lib/src/models/fusion_net.cpp FusionNetImpl. Each image is encoded once; questions pick
    theirs through image_index. Fusions: cross (required here), concat, late, film."""

    def __init__(self, o):
        super().__init__()
        if not o["stages"]:
            raise ValueError("FusionNet: the image encoder needs at least one stage")
        self.in_channels, self.fusion = o["in_channels"], o["fusion"]
        self.stem = nn.Conv2d(o["in_channels"], o["stem_channels"], 3, stride=o["stem_stride"], padding=1,
                              bias=False)
        self.stem_bn = nn.BatchNorm2d(o["stem_channels"])
        kaiming_fan_out_(self.stem.weight)
        self._block_names, channels = _residual_stages(self, "image_", o["stem_channels"], o["stages"],
                                                       o["reduction"], False)
        self.region_proj = nn.Conv2d(channels + 2, o["dim"], 1)
        self.position_proj = (nn.Linear(4 * REGION_FREQUENCIES, o["dim"]) if o["region_positions"] == "fourier"
                              else None)
        self.text = TextEncoder(**o["text"])
        self.text_proj = nn.Linear(o["text"]["dim"], o["dim"]) if o["text"]["dim"] != o["dim"] else None
        self.dropout = nn.Dropout(o["dropout"])

        f, dim, mlp_in = o["fusion"], o["dim"], o["dim"]
        self.image_pool = AttentionPool(dim) if f in ("concat", "late") else None
        if f == "concat":
            mlp_in = 2 * dim
        if f == "late":
            self.image_head = nn.Linear(dim, o["num_classes"])
            self.text_head = nn.Linear(dim, o["num_classes"])
        self._film_names = []
        if f == "film":
            for i in range(o["film_blocks"]):
                self.add_module(f"film_block{i}", FilmBlock(dim, dim))
                self._film_names.append(f"film_block{i}")
            self.film_out = nn.Conv2d(dim, o["hidden"], 1)
            mlp_in = o["hidden"]
        self._cross_names = []
        if f == "cross":
            self.relational = None
            if o["relational_layers"] > 0:
                self.relational = TransformerEncoder(o["relational_layers"], dim, o["heads"], dropout=o["dropout"])
            for i in range(o["conditioning_blocks"]):
                self.add_module(f"condition_block{i}", FilmBlock(dim, dim))
                self._film_names.append(f"condition_block{i}")
            for i in range(o["cross_layers"]):
                self.add_module(f"cross_layer{i}", CrossLayer(dim, o["heads"], o["dropout"],
                                                              o["cross_focus_bias"] and i > 0))
                self._cross_names.append(f"cross_layer{i}")
            self.cross_norm = nn.LayerNorm(dim)
        self.cross_focus_bias = f == "cross" and o["cross_focus_bias"]
        if f != "late":
            self.mlp1 = nn.Linear(mlp_in, o["hidden"])
            self.mlp2 = nn.Linear(o["hidden"], o["num_classes"])

    def forward(self, ids, mask, images, image_index):
        if images.dim() != 4 or images.size(1) != self.in_channels:
            raise ValueError(f"FusionNet: expected images [I, {self.in_channels}, H, W], got {list(images.shape)}")
        if ids.dim() != 2 or image_index.dim() != 1 or image_index.size(0) != ids.size(0):
            raise ValueError(f"FusionNet: expected token ids [Q, L] and image_index [Q], got {list(ids.shape)} "
                             f"and {list(image_index.shape)}")
        # Every image once.
        x = torch.relu(self.stem_bn(self.stem(images)))
        for name in self._block_names:
            x = self._modules[name](x)
        n_images, h, w = x.size(0), x.size(2), x.size(3)
        coords = coordinate_grid(h, w, x.device, x.dtype)
        grid = self.region_proj(torch.cat([x, coords.expand(n_images, 2, h, w)], 1))  # [I, dim, h, w]
        regions = grid.flatten(2).transpose(1, 2)                                    # [I, R, dim]
        if self.position_proj is not None:
            regions = regions + self.position_proj(fourier_positions(coords)).unsqueeze(0)

        # Every question.
        tokens = self.text(ids, mask)[0]
        if self.text_proj is not None:
            tokens = self.text_proj(tokens)  # [Q, L, dim]
        cls = tokens.select(1, 0)

        f = self.fusion
        if f in ("concat", "late"):
            image_vec = self.image_pool(regions)[0].index_select(0, image_index)
            if f == "late":
                return 0.5 * (self.image_head(self.dropout(image_vec)) + self.text_head(self.dropout(cls)))
            features = torch.cat([image_vec, cls], 1)
        elif f == "film":
            y = torch.relu(grid).index_select(0, image_index)  # [Q, dim, h, w]
            for name in self._film_names:
                y = self._modules[name](y, coords, cls)
            features = torch.relu(self.film_out(y)).amax((2, 3))
        else:
            if self.relational is not None:
                regions = self.relational(regions)[0]
            padding = mask.logical_not()
            region_index = image_index
            if self._film_names:  # conditioning_blocks: each question's copy of the regions
                y = regions.transpose(1, 2).reshape(n_images, -1, h, w).index_select(0, image_index)
                for name in self._film_names:
                    y = self._modules[name](y, coords, cls)
                regions = y.flatten(2).transpose(1, 2)
                region_index = torch.arange(image_index.size(0), device=image_index.device)
            cells = region_cells(h, w, x.device, x.dtype) if self.cross_focus_bias else None
            focus = None  # each token's focus in the layer before
            for i, name in enumerate(self._cross_names):
                tokens, weights = self._modules[name](tokens, padding, regions, region_index, focus)
                if cells is not None and i + 1 < len(self._cross_names):
                    focus = focus_features(weights, cells)
            features = self.cross_norm(tokens.select(1, 0))
        return self.mlp2(self.dropout(torch.relu(self.mlp1(self.dropout(features)))))


# ---------------------------------------------------------------- recipe parsing (factory.cpp, parse_*)


class _Reader:
    """Strict reader like util::ObjectReader: typed reads, choices, unknown keys rejected."""

    def __init__(self, obj, context):
        if not isinstance(obj, dict):
            raise ValueError(f"{context}: expected an object, found {type(obj).__name__}")
        self.obj, self.context, self.used = obj, context, set()

    def find(self, key):
        self.used.add(key)
        return self.obj.get(key)

    def read(self, key, default, kind):
        if key not in self.obj:
            self.used.add(key)
            return default
        v = self.find(key)
        ok = {int: isinstance(v, int) and not isinstance(v, bool),
              float: isinstance(v, (int, float)) and not isinstance(v, bool),
              bool: isinstance(v, bool),
              str: isinstance(v, str)}[kind]
        if not ok:
            raise ValueError(f"{self.context}.{key}: expected {kind.__name__}, found {v!r}")
        return float(v) if kind is float else v

    def require(self, key, kind):
        if key not in self.obj:
            raise ValueError(f"{self.context}: missing required key '{key}'")
        return self.read(key, None, kind)

    def choice(self, key, default, allowed):
        v = self.read(key, default, str)
        if v not in allowed:
            raise ValueError(f"{self.context}.{key}: expected one of {allowed}, found {v!r}")
        return v

    def finish(self):
        unknown = sorted(set(self.obj) - self.used)
        if unknown:
            raise ValueError(f"{self.context}: unknown key(s) {unknown}")


def _parse_stages(stages, context):
    """attn_cnn.cpp parse_stages."""
    if not isinstance(stages, list) or not stages:
        raise ValueError(f"{context}: expected a non-empty array of stages")
    out = []
    for i, s in enumerate(stages):
        r = _Reader(s, f"{context}[{i}]")
        st = {"channels": r.require("channels", int), "blocks": r.read("blocks", 1, int),
              "stride": r.read("stride", 2, int),
              "attention": r.choice("attention", "none", ["none", "se", "cbam", "nonlocal"])}
        r.finish()
        if st["channels"] < 1 or st["blocks"] < 1 or st["stride"] not in (1, 2):
            raise ValueError(f"{context}[{i}]: need channels >= 1, blocks >= 1 and stride 1 or 2")
        out.append(st)
    return out


def _read_text_encoder(r, defaults):
    """text_encoder.cpp read_text_encoder_options + check."""
    o = dict(defaults)
    o["dim"] = r.read("dim", o["dim"], int)
    o["layers"] = r.read("layers", o["layers"], int)
    o["heads"] = r.read("heads", o["heads"], int)
    o["ff_dim"] = r.read("ff_dim", o["ff_dim"], int)
    o["positions"] = r.choice("positions", o["positions"], ["learned", "sinusoidal"])
    o["dropout"] = r.read("dropout", o["dropout"], float)
    o["attention_dropout"] = r.read("attention_dropout", o["attention_dropout"], float)
    return o


def _check_text_encoder(o, context):
    if o["dim"] < 1 or o["layers"] < 1 or o["heads"] < 1 or o["ff_dim"] < 0:
        raise ValueError(f"{context}: need dim, layers and heads >= 1 and ff_dim >= 0")
    if o["dim"] % o["heads"] != 0:
        raise ValueError(f"{context}: dim ({o['dim']}) must be divisible by heads ({o['heads']})")
    if o["positions"] == "sinusoidal" and o["dim"] % 2 != 0:
        raise ValueError(f"{context}: sinusoidal positions need an even dim")
    if not (0 <= o["dropout"] < 1 and 0 <= o["attention_dropout"] < 1):
        raise ValueError(f"{context}: dropout and attention_dropout must be in [0, 1)")


# TextEncoderOptions defaults (text_encoder.h); vocab_size and max_length come from the data.
_TEXT_DEFAULTS = {"dim": 128, "layers": 2, "heads": 4, "ff_dim": 0, "positions": "learned", "dropout": 0.1,
                  "attention_dropout": 0.0}
# InputSpec defaults (factory.h).
_INPUT_DEFAULTS = {"channels": 1, "height": 28, "width": 28, "num_classes": 10, "vocab_size": 0, "max_length": 0}


def _build_attncnn(model, spec, ctx):
    r = _Reader(model, ctx)
    r.read("arch", "", str)
    stem_channels = r.read("stem_channels", 32, int)
    stages = r.find("stages")
    stages = _parse_stages(stages, f"{ctx}.stages") if stages is not None else [
        {"channels": 32, "blocks": 1, "stride": 1, "attention": "none"},
        {"channels": 64, "blocks": 1, "stride": 2, "attention": "se"},
        {"channels": 128, "blocks": 1, "stride": 2, "attention": "cbam"}]
    head = r.choice("head", "attention_pool", ["attention_pool", "avg"])
    dropout = r.read("dropout", 0.1, float)
    reduction = r.read("reduction", 8, int)
    zero_init = r.read("zero_init_residual", False, bool)
    r.finish()
    if stem_channels < 1 or reduction < 1 or not 0 <= dropout < 1:
        raise ValueError(f"{ctx}: need stem_channels >= 1, reduction >= 1 and 0 <= dropout < 1")
    return AttnCNN(spec["channels"], spec["num_classes"], stem_channels, stages, head, dropout, reduction, zero_init)


def _build_vit(model, spec, ctx):
    r = _Reader(model, ctx)
    r.read("arch", "", str)
    o = {"patch": r.read("patch", 4, int), "dim": r.read("dim", 128, int), "layers": r.read("layers", 4, int),
         "heads": r.read("heads", 4, int), "ff_dim": r.read("ff_dim", 0, int),
         "dropout": r.read("dropout", 0.1, float), "attention_dropout": r.read("attention_dropout", 0.0, float)}
    r.finish()
    if min(o["patch"], o["dim"], o["layers"], o["heads"]) < 1 or o["ff_dim"] < 0:
        raise ValueError(f"{ctx}: need patch, dim, layers, heads >= 1 and ff_dim >= 0")
    if o["dim"] % o["heads"] != 0:
        raise ValueError(f"{ctx}: dim must be divisible by heads")
    if not (0 <= o["dropout"] < 1 and 0 <= o["attention_dropout"] < 1):
        raise ValueError(f"{ctx}: dropout and attention_dropout must be in [0, 1)")
    return VisionTransformer(spec["channels"], spec["height"], spec["width"], spec["num_classes"], **o)


def _build_text_transformer(model, spec, ctx):
    r = _Reader(model, ctx)
    r.read("arch", "", str)
    enc = _read_text_encoder(r, _TEXT_DEFAULTS)
    head = r.choice("head", "cls", ["cls", "attention_pool"])
    head_dropout = r.read("head_dropout", 0.1, float)
    # init_from names a masked-LM run whose encoder weights the trainer loads after building
    # (text_task.cpp); it does not change the architecture, so it is read and ignored here.
    r.read("init_from", "", str)
    r.finish()
    _check_text_encoder(enc, ctx)
    if not 0 <= head_dropout < 1:
        raise ValueError(f"{ctx}.head_dropout: must be in [0, 1)")
    enc.update(vocab_size=spec["vocab_size"], max_length=spec["max_length"])
    return TextTransformer(enc, spec["num_classes"], head, head_dropout)


def _build_fusion(model, spec, ctx):
    r = _Reader(model, ctx)
    r.read("arch", "", str)
    o = {"stem_channels": 32, "stem_stride": 1, "reduction": 8,
         "stages": [{"channels": 32, "blocks": 1, "stride": 2, "attention": "none"},
                    {"channels": 64, "blocks": 1, "stride": 2, "attention": "none"},
                    {"channels": 64, "blocks": 1, "stride": 2, "attention": "none"}]}
    image = r.find("image")
    if image is not None:
        ir = _Reader(image, f"{ctx}.image")
        o["stem_channels"] = ir.read("stem_channels", o["stem_channels"], int)
        o["stem_stride"] = ir.read("stem_stride", o["stem_stride"], int)
        o["reduction"] = ir.read("reduction", o["reduction"], int)
        stages = ir.find("stages")
        if stages is not None:
            o["stages"] = _parse_stages(stages, f"{ctx}.image.stages")
        ir.finish()
    text = dict(_TEXT_DEFAULTS, dim=64)  # FusionNetOptions::text: dim 64
    t = r.find("text")
    if t is not None:
        tr = _Reader(t, f"{ctx}.text")
        text = _read_text_encoder(tr, text)
        tr.finish()
    o["fusion"] = r.choice("fusion", "cross", ["concat", "late", "film", "cross"])
    for key, default in (("dim", 64), ("heads", 4), ("relational_layers", 2), ("cross_layers", 2),
                         ("conditioning_blocks", 0), ("film_blocks", 2), ("hidden", 128)):
        o[key] = r.read(key, default, int)
    o["dropout"] = r.read("dropout", 0.1, float)
    o["region_positions"] = r.choice("region_positions", "coords", ["coords", "fourier"])
    o["cross_focus_bias"] = r.read("cross_focus_bias", False, bool)
    r.finish()
    _check_text_encoder(text, f"{ctx}.text")
    if o["cross_focus_bias"] and (o["fusion"] != "cross" or o["cross_layers"] < 2):
        raise ValueError(f"{ctx}.cross_focus_bias: needs the cross fusion with cross_layers >= 2")
    if o["fusion"] == "film" and o["region_positions"] != "coords":
        raise ValueError(f"{ctx}.region_positions: the film fusion reads coordinates in each block and takes only "
                         "\"coords\"")
    if o["stem_channels"] < 1 or o["stem_stride"] not in (1, 2) or o["reduction"] < 1:
        raise ValueError(f"{ctx}.image: need stem_channels >= 1, stem_stride 1 or 2 and reduction >= 1")
    if o["dim"] < 1 or o["heads"] < 1 or o["dim"] % o["heads"] != 0:
        raise ValueError(f"{ctx}: dim ({o['dim']}) must be a positive multiple of heads ({o['heads']})")
    if (o["relational_layers"] < 0 or o["cross_layers"] < 1 or o["film_blocks"] < 1 or o["hidden"] < 1
            or o["conditioning_blocks"] < 0):
        raise ValueError(f"{ctx}: need relational_layers >= 0, cross_layers >= 1, film_blocks >= 1, hidden >= 1 "
                         "and conditioning_blocks >= 0")
    if not 0 <= o["dropout"] < 1:
        raise ValueError(f"{ctx}.dropout: must be in [0, 1)")
    text.update(vocab_size=spec["vocab_size"], max_length=spec["max_length"])
    o.update(in_channels=spec["channels"], num_classes=spec["num_classes"], text=text)
    return FusionNet(o)


def build(recipe_model, input, context="model"):
    """factory.cpp build_model: the model of a recipe's "model" object for the data's input spec."""
    builders = {"attncnn": _build_attncnn, "vit": _build_vit, "text_transformer": _build_text_transformer,
                "fusion": _build_fusion}
    if not isinstance(recipe_model, dict) or not isinstance(recipe_model.get("arch"), str):
        raise ValueError(f"{context}.arch: expected a string naming the architecture")
    arch = recipe_model["arch"]
    if arch not in builders:
        raise ValueError(f"{context}.arch: architecture \"{arch}\" is not mirrored here "
                         f"(available: {', '.join(builders)})")
    spec = dict(_INPUT_DEFAULTS, **input)
    if arch not in ("attncnn", "vit") and spec["vocab_size"] <= 0:
        raise ValueError(f"{context}: architecture {arch} reads text, but the data gives no vocabulary")
    return builders[arch](recipe_model, spec, context)


def count_parameters(module):
    """factory.cpp count_parameters: parameters that require gradients."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ---------------------------------------------------------------- self-check


def _random_text(batch, length, vocab, generator):
    """ids [B, L] with [CLS]-like first token, random real lengths, 0 on padding; mask True = real."""
    lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    lengths[0] = length  # one full row
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    ids = torch.randint(1, vocab, (batch, length), generator=generator).masked_fill(~mask, 0)
    return ids, mask


def _self_check():
    here = os.path.dirname(os.path.abspath(__file__))
    recipes = os.path.join(here, "..", "..", "models")
    image_fashion = {"channels": 1, "height": 28, "width": 28, "num_classes": 10, "vocab_size": 0, "max_length": 0}
    spam = {"channels": 0, "height": 0, "width": 0, "num_classes": 2, "vocab_size": 8000, "max_length": 256}
    clevr = {"channels": 3, "height": 75, "width": 75, "num_classes": 10, "vocab_size": 32, "max_length": 24}
    # (recipe, input, parameters Focus reports in runs/bench-<recipe>/summary.json)
    checks = [("fashion-attncnn", image_fashion, 584422),
              ("fashion-vit", image_fashion, 105546),
              ("spam-transformer", spam, 1322242),
              ("clevr-cross", clevr, 364978),
              # the other fusions, mirrored too
              ("clevr-concat", clevr, 137642),
              ("clevr-film", clevr, 244842),
              ("clevr-late", clevr, 121140),
              # with FiLM conditioning blocks (focus-bench-model on the recipe with this override)
              ("clevr-cross", clevr, 463922, {"conditioning_blocks": 2})]
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    for name, spec, expected, *overrides in checks:
        with open(os.path.join(recipes, name + ".json")) as f:
            model = build(dict(json.load(f)["model"], **(overrides[0] if overrides else {})), spec)
        n = count_parameters(model)
        print(f"{name:18s} {n:9d} parameters (Focus: {expected})")
        assert n == expected, f"{name}: {n} parameters, Focus reports {expected}"

        arch = model.__class__.__name__
        b = 4
        if arch in ("AttnCNN", "VisionTransformer"):
            out = model(torch.randn(b, spec["channels"], spec["height"], spec["width"]))
        elif arch == "TextTransformer":
            out = model(*_random_text(b, spec["max_length"], spec["vocab_size"], gen))
        else:
            ids, mask = _random_text(b + 1, spec["max_length"], spec["vocab_size"], gen)
            images = torch.randn(3, spec["channels"], spec["height"], spec["width"])
            out = model(ids, mask, images, torch.tensor([0, 2, 2, 1, 0]))
            b += 1
        assert out.shape == (b, spec["num_classes"]), f"{name}: logits {tuple(out.shape)}"
        assert torch.isfinite(out).all(), f"{name}: non-finite logits"

        # Padding is masked: in eval mode a padded question/text gives the logits of the unpadded one.
        if arch in ("TextTransformer", "FusionNet"):
            model.eval()
            with torch.no_grad():
                ids, mask = _random_text(1, 8, spec["vocab_size"], gen)
                pad = torch.zeros(1, spec["max_length"] - 8, dtype=torch.long)
                padded_ids, padded_mask = torch.cat([ids, pad], 1), torch.cat([mask, pad.bool()], 1)
                if arch == "TextTransformer":
                    a, p = model(ids, mask), model(padded_ids, padded_mask)
                else:
                    images, index = torch.randn(1, spec["channels"], spec["height"], spec["width"]), torch.tensor([0])
                    a, p = model(ids, mask, images, index), model(padded_ids, padded_mask, images, index)
            assert torch.allclose(a, p, atol=1e-5), f"{name}: padding changes the logits"

    # forward_grouped equals forward on per-query key/value sets.
    mha = MultiHeadAttention(16, 4)
    q, kv, group = torch.randn(5, 3, 16), torch.randn(2, 7, 16), torch.tensor([1, 0, 1, 1, 0])
    grouped = mha.forward_grouped(q, kv, kv, group)[0]
    plain = mha(q, kv.index_select(0, group), kv.index_select(0, group))[0]
    assert torch.allclose(grouped, plain, atol=1e-6)
    print("all checks passed")


if __name__ == "__main__":
    _self_check()
