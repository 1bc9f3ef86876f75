#pragma once
// Sort-of-CLEVR (Santoro et al. 2017, "A simple neural network module for
// relational reasoning"): 75x75 images of 6 objects in 6 distinct colours,
// each a square or a circle, with non-relational and relational questions
// written as English text and answered from a fixed vocabulary.
//
// Questions (one colour names the subject object):
//   non-relational  shape       "What is the shape of the red object?"          square | circle
//                   horizontal  "Is the red object on the left?"                 yes | no  (centre x < width / 2)
//                   vertical    "Is the red object at the top?"                  yes | no  (centre y < height / 2)
//   relational      closest     "What is the shape of the object closest to the red object?"      square | circle
//                   furthest    "What is the shape of the object furthest from the red object?"   square | circle
//                   count       "How many objects have the same shape as the red object?"        1 .. 6 (itself included)
// Distances are between object centres; a subject whose closest or furthest
// object is tied is never asked about, so every answer is unambiguous.
//
// The generator is deterministic: the same options give the same files, byte
// for byte (a fixed 64-bit generator with its own integer sampling, not the
// implementation-defined std:: distributions).
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "focus/util/json_reader.h"

namespace focus::data {

struct SortOfClevrOptions {
  std::string out;             ///< output directory
  int64_t images = 10000;      ///< images in all (train + test)
  int64_t test_images = 200;   ///< of which held out for testing
  int64_t image_size = 75;     ///< width and height in pixels
  int64_t object_size = 5;     ///< half the side of a square, the radius of a circle
  int64_t non_relational = 10; ///< non-relational questions per image
  int64_t relational = 10;     ///< relational questions per image
  uint64_t seed = 1;
};

/// The six colours, in the order of their index.
const std::vector<std::string>& sort_of_clevr_colors();
/// The answer vocabulary: yes, no, square, circle, 1..6.
const std::vector<std::string>& sort_of_clevr_answers();

struct SceneObject {
  std::string color;
  std::string shape;  ///< "square" or "circle"
  int64_t x = 0, y = 0;  ///< centre, pixels
};

struct Question {
  std::string text, answer;
  std::string type;     ///< "non_relational" or "relational"
  std::string subtype;  ///< shape, horizontal, vertical, closest, furthest, count
  std::vector<int64_t> referred;  ///< objects the answer depends on, the subject first
};

/// Draws a scene: one object of each colour at non-overlapping positions.
std::vector<SceneObject> random_scene(std::mt19937_64& rng, const SortOfClevrOptions& options);
/// The image of a scene: 8-bit BGR, white background, width x height x 3 bytes (row-major).
std::vector<uint8_t> render_scene(const std::vector<SceneObject>& scene, const SortOfClevrOptions& options);
/// The questions of one scene: options.non_relational then options.relational.
std::vector<Question> ask_questions(const std::vector<SceneObject>& scene, std::mt19937_64& rng,
                                    const SortOfClevrOptions& options);

struct SortOfClevrSummary {
  int64_t train_images = 0, test_images = 0, train_questions = 0, test_questions = 0;
  std::vector<std::string> files;  ///< the manifests and dataset.json
};

/// Writes out/images/{train,test}/NNNNNN.png, out/train.jsonl, out/test.jsonl
/// (one record per question: image, text, label, type, subtype, objects with
/// their bounding boxes, the referred ones marked) and out/dataset.json.
/// Throws focus::Error for bad options or a failed write.
SortOfClevrSummary write_sort_of_clevr(const SortOfClevrOptions& options);

}  // namespace focus::data
