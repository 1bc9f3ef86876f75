// Strict JSON reading and --set overrides.
#include <catch2/catch.hpp>

#include "focus/util/json_reader.h"

using focus::util::Json;
using focus::util::ObjectReader;

TEST_CASE("ObjectReader reads typed values and keeps defaults", "[util]") {
  Json j = {{"epochs", 3}, {"lr", 0.5}, {"name", "x"}, {"flags", {1, 2}}};
  int epochs = 0;
  double lr = 0, missing = 7;
  std::string name;
  std::vector<int> flags;
  ObjectReader r(j, "recipe a.json: train");
  r.read("epochs", epochs).read("lr", lr).read("name", name).read("flags", flags).read("missing", missing);
  r.finish();
  CHECK(epochs == 3);
  CHECK(lr == 0.5);
  CHECK(name == "x");
  CHECK((flags == std::vector<int>{1, 2}));
  CHECK(missing == 7);
}

TEST_CASE("ObjectReader reports unknown keys and wrong types with their path", "[util]") {
  Json j = {{"epochs", "3"}, {"epohcs", 2}};
  int epochs = 0;
  ObjectReader r(j, "recipe a.json: train");
  REQUIRE_THROWS_WITH(r.read("epochs", epochs),
                      Catch::Contains("recipe a.json: train.epochs") && Catch::Contains("expected an integer") &&
                          Catch::Contains("string \"3\""));
  REQUIRE_THROWS_WITH(r.finish(), Catch::Contains("unknown key 'epohcs'"));
  Json ok = {{"lr", 1}};
  double lr = 0;
  ObjectReader r2(ok, "c");
  r2.read("lr", lr);  // integers are valid numbers
  CHECK(lr == 1.0);
  std::string choice = "sgdd";
  Json c = {{"name", "sgdd"}};
  ObjectReader r3(c, "c");
  REQUIRE_THROWS_WITH(r3.read_choice("name", choice, {"adamw", "sgd"}), Catch::Contains("one of {adamw, sgd}"));
}

TEST_CASE("apply_override parses JSON values and rejects unknown sections", "[util]") {
  Json j = {{"train", {{"epochs", 10}, {"optimizer", {{"name", "adamw"}}}}}};
  focus::util::apply_override(j, "train.epochs=3");
  focus::util::apply_override(j, "train.optimizer.name=sgd");
  focus::util::apply_override(j, "train.tags=[1,2]");
  CHECK(j["train"]["epochs"] == 3);
  CHECK(j["train"]["optimizer"]["name"] == "sgd");
  CHECK(j["train"]["tags"].size() == 2);
  REQUIRE_THROWS_WITH(focus::util::apply_override(j, "trian.epochs=3"), Catch::Contains("no section 'trian'"));
  REQUIRE_THROWS_WITH(focus::util::apply_override(j, "noequals"), Catch::Contains("expected key.path=value"));
  // A value that is not JSON is kept as a string, so it must be UTF-8 (else writing recipe.json would fail later).
  REQUIRE_THROWS_WITH(focus::util::apply_override(j, "train.optimizer.name=caf\xe9"), Catch::Contains("not valid UTF-8"));
  REQUIRE_THROWS_WITH(focus::util::apply_override(j, "train.\xff=1"), Catch::Contains("not valid UTF-8"));
  CHECK(j.dump().find("caf") == std::string::npos);
}

TEST_CASE("parse_json_text reports line and column", "[util]") {
  REQUIRE_THROWS_WITH(focus::util::parse_json_text("{\n  \"a\": 1,\n  oops\n}", "r.json"),
                      Catch::StartsWith("r.json:3:"));
  // A number beyond a double's range is nlohmann's out_of_range, not a parse_error (found by tests/fuzz).
  REQUIRE_THROWS_WITH(focus::util::parse_json_text("{\"lr\": 1e999}", "r.json"),
                      Catch::StartsWith("r.json: invalid JSON") && Catch::Contains("number overflow"));
}
