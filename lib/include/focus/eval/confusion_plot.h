#pragma once
// Confusion-matrix heatmap rendered with OpenCV to PNG bytes: counts written
// in the cells, colour by row-normalised share (fraction of the true class),
// class names on both axes, axis titles "true" and "predicted", a colour bar.
#include <cstdint>
#include <string>
#include <vector>

namespace focus::eval {

/// Renders `confusion` ([true][predicted] counts, square, non-negative) to a
/// PNG-encoded byte string. `class_names` must be empty (indices are used) or
/// have one name per row. Names are drawn with OpenCV's Hershey font, so
/// characters outside printable ASCII are shown as '?'.
/// Throws focus::Error on an empty or non-square matrix, negative counts, a
/// name count mismatch or an encoding failure.
std::string render_confusion_png(const std::vector<std::vector<int64_t>>& confusion,
                                 const std::vector<std::string>& class_names);

}  // namespace focus::eval
