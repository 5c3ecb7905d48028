// libFuzzer target: recipe JSON → Recipe, and for what parses, write → read must parse again.
#include <string>

#include "core/error.h"
#include "recipe/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const edgefit::Recipe r =
        edgefit::parse_recipe(std::string(reinterpret_cast<const char*>(data), size), "r.json");
    (void)edgefit::parse_recipe(edgefit::recipe_to_json(r).dump(), "again.json");
  } catch (const edgefit::Error&) {
  }
  return 0;
}
