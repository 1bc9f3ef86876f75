#include "focus/data/image_data_config.h"

namespace focus::data {

ImageDataConfig parse_image_data_config(const util::Json& json, const std::string& context) {
  ImageDataConfig c;
  util::ObjectReader r(json, context);
  r.read_choice("format", c.format, {"idx", "folder"});
  r.require("root", c.root);
  r.read("train_images", c.train_images).read("train_labels", c.train_labels);
  r.read("test_images", c.test_images).read("test_labels", c.test_labels);
  r.read("train_dir", c.train_dir).read("test_dir", c.test_dir);
  r.read("class_names", c.class_names).read("channels", c.channels).read("image_size", c.image_size);
  r.read("val_fraction", c.val_fraction).read("split_seed", c.split_seed);
  r.read("limit_train", c.limit_train).read("limit_test", c.limit_test).read("workers", c.workers);
  if (const auto* a = r.find("augment")) {
    util::ObjectReader ar(*a, r.where("augment"));
    auto& g = c.augment;
    ar.read("enabled", g.enabled).read("crop_padding", g.crop_padding).read("horizontal_flip", g.horizontal_flip);
    ar.read("rotate_degrees", g.rotate_degrees).read("scale", g.scale);
    ar.read("erase_probability", g.erase_probability).read("erase_max_area", g.erase_max_area);
    ar.finish();
    if (g.crop_padding < 0 || g.rotate_degrees < 0 || g.scale < 0 || g.scale >= 1 || g.erase_probability < 0 ||
        g.erase_probability > 1 || g.erase_max_area <= 0 || g.erase_max_area > 1)
      throw Error(r.where("augment") + ": values out of range (crop_padding >= 0, rotate_degrees >= 0, "
                  "0 <= scale < 1, 0 <= erase_probability <= 1, 0 < erase_max_area <= 1)");
  }
  r.finish();
  if (c.val_fraction < 0 || c.val_fraction >= 1)
    throw Error(r.where("val_fraction") + ": expected a value in [0, 1), found " + std::to_string(c.val_fraction));
  if (c.channels != 1 && c.channels != 3)
    throw Error(r.where("channels") + ": expected 1 or 3, found " + std::to_string(c.channels));
  if (c.image_size < 0 || c.limit_train < 0 || c.limit_test < 0 || c.workers < 0)
    throw Error(context + ": image_size, limit_train, limit_test and workers must be >= 0");
  return c;
}

util::Json to_json(const ImageDataConfig& c) {
  const auto& g = c.augment;
  return {{"format", c.format}, {"root", c.root}, {"train_images", c.train_images}, {"train_labels", c.train_labels},
          {"test_images", c.test_images}, {"test_labels", c.test_labels}, {"train_dir", c.train_dir},
          {"test_dir", c.test_dir}, {"class_names", c.class_names}, {"channels", c.channels},
          {"image_size", c.image_size}, {"val_fraction", c.val_fraction}, {"split_seed", c.split_seed},
          {"limit_train", c.limit_train}, {"limit_test", c.limit_test}, {"workers", c.workers},
          {"augment",
           {{"enabled", g.enabled}, {"crop_padding", g.crop_padding}, {"horizontal_flip", g.horizontal_flip},
            {"rotate_degrees", g.rotate_degrees}, {"scale", g.scale}, {"erase_probability", g.erase_probability},
            {"erase_max_area", g.erase_max_area}}}};
}

}  // namespace focus::data
