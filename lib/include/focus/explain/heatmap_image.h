#pragma once
// Turning maps into files: normalisation to [0, 1], resizing to the input,
// colour overlays and side-by-side grids as PNG bytes, and NumPy .npy files.
#include <string>
#include <vector>

#include <torch/types.h>

namespace focus::explain {

/// (map - min) / (max - min); a constant map becomes all zeros. Any shape.
torch::Tensor normalize_map(const torch::Tensor& map);

/// A 2-D map [h, w] resized (bilinear) to [height, width].
torch::Tensor resize_map(const torch::Tensor& map, int64_t height, int64_t width);

/// The NumPy .npy (format 1.0) bytes of a tensor, as little-endian float32 in C order.
std::string npy_bytes(const torch::Tensor& tensor);

/// image: uint8 [H, W, C] (C = 1 or 3, RGB); map: [H, W] in [0, 1]. Returns PNG
/// bytes of the image with the map's jet colours blended in (alpha = opacity).
std::string overlay_png(const torch::Tensor& image, const torch::Tensor& map, double opacity = 0.5);

struct GridTile {
  std::string label;       ///< drawn above the tile
  torch::Tensor image;     ///< uint8 [H, W, C]
  torch::Tensor map;       ///< [H, W] in [0, 1], or undefined for the plain image
};

/// Tiles side by side, each scaled to `tile` pixels (nearest neighbour), with
/// its label above and `title` across the top. Returns PNG bytes.
std::string grid_png(const std::vector<GridTile>& tiles, const std::string& title, int tile = 160);

}  // namespace focus::explain
