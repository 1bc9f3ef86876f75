#include "focus/eval/confusion_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "focus/util/error.h"

namespace focus::eval {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr int kTextPad = 2;          // blank border around every rendered text box
constexpr int kMargin = 18;          // outer margin of the image
constexpr int kMaxNameChars = 24;    // longer class names are shortened with "..."
constexpr double kTitleScale = 0.6;  // font scale of the title and the axis titles
const cv::Scalar kInk(40, 40, 40);   // BGR colour of ordinary text
const cv::Scalar kWhite(255, 255, 255);

// The nine-step sequential "Blues" palette (ColorBrewer), light to dark, as RGB.
constexpr std::array<std::array<int, 3>, 9> kBlues = {{{247, 251, 255},
                                                       {222, 235, 247},
                                                       {198, 219, 239},
                                                       {158, 202, 225},
                                                       {107, 174, 214},
                                                       {66, 146, 198},
                                                       {33, 113, 181},
                                                       {8, 81, 156},
                                                       {8, 48, 107}}};

// Colour for a share t in [0, 1], linearly interpolated along kBlues, as BGR.
cv::Scalar blues(double t) {
  t = std::clamp(t, 0.0, 1.0) * (kBlues.size() - 1);
  const size_t lo = std::min(static_cast<size_t>(t), kBlues.size() - 2);
  const double f = t - static_cast<double>(lo);
  auto mix = [&](int channel) {
    return kBlues[lo][channel] * (1 - f) + kBlues[lo + 1][channel] * f;
  };
  return cv::Scalar(mix(2), mix(1), mix(0));
}

// Hershey fonts draw printable ASCII only: every other code point becomes '?'.
std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (ch >= 0x20 && ch < 0x7f) {
      out += static_cast<char>(ch);
    } else if ((ch & 0xC0) != 0x80) {  // count a UTF-8 sequence once, at its lead byte
      out += '?';
    }
  }
  if (out.size() > kMaxNameChars) out = out.substr(0, kMaxNameChars - 3) + "...";
  return out;
}

// A text rendered as a coverage mask (255 = ink), optionally turned to read upwards.
struct TextMask {
  cv::Mat mask;  // CV_8UC1; its size is the text box including kTextPad
};

TextMask render_text(const std::string& text, double scale, int thickness, bool upwards) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  TextMask t;
  t.mask = cv::Mat::zeros(size.height + baseline + 2 * kTextPad, size.width + 2 * kTextPad, CV_8UC1);
  if (!text.empty()) {
    cv::putText(t.mask, text, cv::Point(kTextPad, kTextPad + size.height), kFont, scale,
                cv::Scalar(255), thickness, cv::LINE_AA);
  }
  if (upwards) cv::rotate(t.mask, t.mask, cv::ROTATE_90_COUNTERCLOCKWISE);
  return t;
}

// Paints `color` through `text.mask` onto `canvas` with the box's top-left at `at`.
void paint(cv::Mat& canvas, const TextMask& text, cv::Point at, const cv::Scalar& color) {
  for (int y = 0; y < text.mask.rows; ++y) {
    const int cy = at.y + y;
    if (cy < 0 || cy >= canvas.rows) continue;
    for (int x = 0; x < text.mask.cols; ++x) {
      const int cx = at.x + x;
      const double a = text.mask.at<uchar>(y, x) / 255.0;
      if (cx < 0 || cx >= canvas.cols || a == 0) continue;
      cv::Vec3b& px = canvas.at<cv::Vec3b>(cy, cx);
      for (int k = 0; k < 3; ++k) {
        px[k] = cv::saturate_cast<uchar>(px[k] * (1 - a) + color[k] * a);
      }
    }
  }
}

// Largest font scale (from `start` down) at which every string fits `width`; 0 if none does.
double fitting_scale(const std::vector<std::string>& texts, int width, double start) {
  for (double scale = start; scale >= 0.25; scale -= 0.05) {
    bool fits = true;
    for (const std::string& t : texts) {
      int baseline = 0;
      if (cv::getTextSize(t, kFont, scale, 1, &baseline).width > width) fits = false;
    }
    if (fits) return scale;
  }
  return 0;
}

void check_input(const std::vector<std::vector<int64_t>>& confusion,
                 const std::vector<std::string>& class_names) {
  const size_t n = confusion.size();
  if (n == 0) throw Error("render_confusion_png: expected a non-empty confusion matrix, found 0 rows");
  for (size_t r = 0; r < n; ++r) {
    if (confusion[r].size() != n) {
      throw Error("render_confusion_png: expected a square matrix with " + std::to_string(n) +
                  " columns in every row, found " + std::to_string(confusion[r].size()) +
                  " in row " + std::to_string(r));
    }
    for (size_t c = 0; c < n; ++c) {
      if (confusion[r][c] < 0) {
        throw Error("render_confusion_png: expected non-negative counts, found " +
                    std::to_string(confusion[r][c]) + " at [" + std::to_string(r) + "][" +
                    std::to_string(c) + "]");
      }
    }
  }
  if (!class_names.empty() && class_names.size() != n) {
    throw Error("render_confusion_png: expected " + std::to_string(n) +
                " class names (or none), found " + std::to_string(class_names.size()));
  }
}

}  // namespace

std::string render_confusion_png(const std::vector<std::vector<int64_t>>& confusion,
                                 const std::vector<std::string>& class_names) {
  check_input(confusion, class_names);
  const int n = static_cast<int>(confusion.size());
  const int cell = std::clamp(720 / n, 4, 64);
  const int side = n * cell;

  // Class-name masks: horizontal for rows, reading upwards for columns.
  const bool show_names = cell >= 10;
  const double name_scale = cell >= 40 ? 0.5 : std::max(0.3, 0.5 * cell / 40.0);
  std::vector<TextMask> row_names, column_names;
  int name_extent = 0;  // widest name in px, i.e. room needed beside and below the matrix
  if (show_names) {
    for (int i = 0; i < n; ++i) {
      const std::string name = printable(class_names.empty() ? std::to_string(i) : class_names[i]);
      row_names.push_back(render_text(name, name_scale, 1, false));
      column_names.push_back(render_text(name, name_scale, 1, true));
      name_extent = std::max(name_extent, row_names.back().mask.cols);
    }
  }
  const TextMask title =
      render_text("Confusion matrix (colour: share of the true class)", kTitleScale, 1, false);
  const TextMask true_title = render_text("true", kTitleScale, 1, true);
  const TextMask predicted_title = render_text("predicted", kTitleScale, 1, false);
  const TextMask tick_probe = render_text("1.00", 0.45, 1, false);

  // Layout: title on top, "true" + row names left, column names + "predicted" below,
  // colour bar with ticks on the right.
  const int gap = 8;
  const cv::Point origin(kMargin + true_title.mask.cols + gap + name_extent + gap,
                         kMargin + title.mask.rows + 2 * gap);
  const int bar_x = origin.x + side + 3 * gap;
  const int bar_width = 16;
  const int width = std::max(bar_x + bar_width + gap + tick_probe.mask.cols + kMargin,
                             kMargin + title.mask.cols + kMargin);
  const int height =
      origin.y + side + gap + name_extent + gap + predicted_title.mask.rows + kMargin;
  cv::Mat canvas(height, width, CV_8UC3, kWhite);

  // Cells: row-normalised colour, count centred in the cell.
  std::vector<std::string> counts;
  for (const auto& row : confusion) {
    for (int64_t v : row) counts.push_back(std::to_string(v));
  }
  const double count_scale = fitting_scale(counts, cell - 6, cell >= 48 ? 0.5 : 0.45);
  for (int r = 0; r < n; ++r) {
    int64_t row_total = 0;
    for (int64_t v : confusion[r]) row_total += v;
    for (int c = 0; c < n; ++c) {
      const double share =
          row_total > 0 ? static_cast<double>(confusion[r][c]) / static_cast<double>(row_total) : 0;
      const cv::Rect box(origin.x + c * cell, origin.y + r * cell, cell, cell);
      cv::rectangle(canvas, box, blues(share), cv::FILLED);
      cv::rectangle(canvas, box, cv::Scalar(225, 225, 225), 1);
      if (count_scale > 0) {
        const TextMask label = render_text(counts[r * n + c], count_scale, 1, false);
        const cv::Point at(box.x + (cell - label.mask.cols) / 2,
                           box.y + (cell - label.mask.rows) / 2 + 1);
        paint(canvas, label, at, share > 0.5 ? kWhite : kInk);
      }
    }
  }
  cv::rectangle(canvas, cv::Rect(origin.x - 1, origin.y - 1, side + 2, side + 2),
                cv::Scalar(120, 120, 120), 1);

  // Class names: right-aligned left of the rows, ending just below the columns.
  for (int i = 0; i < static_cast<int>(row_names.size()); ++i) {
    const cv::Mat& rm = row_names[i].mask;
    paint(canvas, row_names[i],
          cv::Point(origin.x - gap - rm.cols, origin.y + i * cell + (cell - rm.rows) / 2 + 1), kInk);
    const cv::Mat& cm = column_names[i].mask;
    paint(canvas, column_names[i],
          cv::Point(origin.x + i * cell + (cell - cm.cols) / 2 + 1, origin.y + side + gap), kInk);
  }

  // Title and axis titles.
  paint(canvas, title, cv::Point(kMargin, kMargin), kInk);
  paint(canvas, true_title,
        cv::Point(kMargin, origin.y + (side - true_title.mask.rows) / 2), kInk);
  paint(canvas, predicted_title,
        cv::Point(origin.x + (side - predicted_title.mask.cols) / 2,
                  origin.y + side + gap + name_extent + gap),
        kInk);

  // Colour bar from 1 (top) to 0 (bottom) with ticks every 0.25.
  for (int y = 0; y < side; ++y) {
    const double t = side > 1 ? 1.0 - static_cast<double>(y) / (side - 1) : 1.0;
    cv::line(canvas, cv::Point(bar_x, origin.y + y), cv::Point(bar_x + bar_width - 1, origin.y + y),
             blues(t));
  }
  cv::rectangle(canvas, cv::Rect(bar_x - 1, origin.y - 1, bar_width + 2, side + 2),
                cv::Scalar(120, 120, 120), 1);
  for (int i = 0; i <= 4; ++i) {
    const int y = origin.y + static_cast<int>(std::lround((side - 1) * (1.0 - i / 4.0)));
    cv::line(canvas, cv::Point(bar_x + bar_width, y), cv::Point(bar_x + bar_width + 3, y), kInk);
    const std::array<const char*, 5> names = {"0", "0.25", "0.5", "0.75", "1"};
    const TextMask tick = render_text(names[i], 0.45, 1, false);
    paint(canvas, tick, cv::Point(bar_x + bar_width + 5, y - tick.mask.rows / 2), kInk);
  }

  std::vector<uchar> png;
  try {
    if (!cv::imencode(".png", canvas, png)) throw Error("render_confusion_png: PNG encoding failed");
  } catch (const cv::Exception& e) {
    throw Error(std::string("render_confusion_png: PNG encoding failed: ") + e.what());
  }
  return std::string(png.begin(), png.end());
}

}  // namespace focus::eval
