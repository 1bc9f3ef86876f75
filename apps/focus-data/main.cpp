// focus-data: dataset generators and preparation.
#include <cstdio>

#include "common/app_common.h"
#include "focus/data/sort_of_clevr.h"

int main(int argc, char** argv) {
  CLI::App app{"Generate and prepare datasets for Focus.\n\n"
               "Subcommands:\n"
               "  sort-of-clevr   the visual question answering set of Santoro et al. 2017\n\n"
               "Run 'focus-data <subcommand> --help' for its options.",
               "focus-data"};
  app.require_subcommand(1);
  focus::apps::CommonFlags common;
  focus::apps::add_common_flags(app, common);

  focus::data::SortOfClevrOptions clevr;
  auto* sc = app.add_subcommand(
      "sort-of-clevr",
      "Sort-of-CLEVR (Santoro et al. 2017): 75x75 images of 6 objects in 6 distinct colours (red, green, blue,\n"
      "orange, yellow, gray), each a square or a circle, with 10 non-relational questions (shape; on the left?;\n"
      "at the top?) and 10 relational ones (shape of the closest / furthest object; how many objects share\n"
      "the shape) per image, written as English text. Answers: yes, no, square, circle, 1..6.\n\n"
      "Writes OUT/images/{train,test}/NNNNNN.png, OUT/train.jsonl and OUT/test.jsonl (one line per question:\n"
      "image, text, label, type = non_relational | relational, subtype, objects with colour, shape, centre\n"
      "and bounding box, and 'referred' marking the objects the answer depends on), and OUT/dataset.json\n"
      "last. The same seed gives the same files byte for byte.\n\n"
      "Example:\n"
      "  focus-data sort-of-clevr --out data/sort-of-clevr --images 10000 --seed 1");
  sc->add_option("--out", clevr.out, "Output directory (created if missing)")->required();
  sc->add_option("--images", clevr.images, "Images in all, training plus test")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sc->add_option("--test-images", clevr.test_images, "Images held out as the test split")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sc->add_option("--seed", clevr.seed, "Random seed")->capture_default_str();
  sc->add_option("--image-size", clevr.image_size, "Image width and height in pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sc->add_option("--object-size", clevr.object_size, "Half the side of a square, the radius of a circle")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sc->add_option("--non-relational", clevr.non_relational, "Non-relational questions per image")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sc->add_option("--relational", clevr.relational, "Relational questions per image")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();

  return focus::apps::run_app(app, argc, argv, [&] {
    focus::apps::apply_common_flags(common);
    if (sc->parsed()) {
      const auto summary = focus::data::write_sort_of_clevr(clevr);
      std::printf("train: %ld images, %ld questions\ntest: %ld images, %ld questions\n",
                  static_cast<long>(summary.train_images), static_cast<long>(summary.train_questions),
                  static_cast<long>(summary.test_images), static_cast<long>(summary.test_questions));
      for (const auto& f : summary.files) std::printf("wrote %s\n", f.c_str());
    }
    return 0;
  });
}
