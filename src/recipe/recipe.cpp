// Recipe JSON: strict reading (every field checked, the bad one named), writing, and the checks
// that need the model. See recipe.h for the schema.
#include "recipe/recipe.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <regex>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/strings.h"
#include "formats/model.h"
#include "quant/presets.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// Errors carry the field path ("rules[2].format") in front of the message.
[[noreturn]] void fail(const std::string& file, const std::string& field, const std::string& msg) {
  throw Error(field + ": " + msg, file);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Reading one JSON object with a field path for errors.
class Reader {
 public:
  Reader(const json& j, std::string path, const std::string& file)
      : j_(j), path_(std::move(path)), file_(file) {
    if (!j_.is_object()) fail(file_, path_.empty() ? "recipe" : path_, "must be a JSON object");
  }

  // Rejects any key not in `allowed` (a misspelt field must not be silently ignored).
  void only(std::initializer_list<const char*> allowed) const {
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      const bool ok =
          std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; });
      if (!ok) fail(file_, field(it.key()), "unknown field '" + it.key() + "'");
    }
  }
  bool has(const char* key) const { return j_.contains(key); }
  std::string field(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  const json& at(const char* key) const { return j_.at(key); }

  std::string str(const char* key, std::string fallback = "") const {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) fail(file_, field(key), "must be a string");
    return j_[key].get<std::string>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) fail(file_, field(key), "must be true or false");
    return j_[key].get<bool>();
  }
  int integer(const char* key, int fallback) const {
    if (!has(key)) return fallback;
    return as_int(j_[key], field(key));
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_number()) fail(file_, field(key), "must be a number");
    return j_[key].get<double>();
  }
  std::vector<int> int_list(const char* key) const {
    std::vector<int> out;
    if (!has(key)) return out;
    if (!j_[key].is_array()) fail(file_, field(key), "must be an array of integers");
    for (size_t i = 0; i < j_[key].size(); ++i)
      out.push_back(as_int(j_[key][i], field(key) + "[" + std::to_string(i) + "]"));
    return out;
  }
  ojson object(const char* key) const {
    if (!has(key)) return ojson::object();
    if (!j_[key].is_object()) fail(file_, field(key), "must be a JSON object");
    return ojson::parse(j_[key].dump());  // keep the settings as written
  }

 private:
  int as_int(const json& v, const std::string& f) const {
    if (!v.is_number_integer()) fail(file_, f, "must be an integer");
    const int64_t x = v.get<int64_t>();
    if (x < -1000000000 || x > 1000000000) fail(file_, f, "out of range");
    return static_cast<int>(x);
  }

  const json& j_;
  std::string path_;
  const std::string& file_;
};

DType parse_format(const std::string& name, const std::string& field, const std::string& file) {
  const auto t = dtype_from_name(name);
  if (!t || !quant_traits(*t)) fail(file, field, "unknown format '" + name + "'");
  return *t;
}

MethodSpec parse_method(const json& j, const std::string& path, const std::string& file) {
  Reader r(j, path, file);
  r.only({"name", "params"});
  MethodSpec m;
  m.name = ascii_lower(r.str("name", "rtn"));
  const auto& known = recipe_method_names();
  if (std::find(known.begin(), known.end(), m.name) == known.end())
    fail(file, r.field("name"), "unknown method '" + m.name + "' (known: " + join(known) + ")");
  m.params = r.object("params");
  return m;
}

void check_unique_indices(const std::vector<int>& v, const std::string& field,
                          const std::string& file) {
  std::vector<int> s = v;
  std::sort(s.begin(), s.end());
  if (!s.empty() && s.front() < 0) fail(file, field, "indices must not be negative");
  if (std::adjacent_find(s.begin(), s.end()) != s.end()) fail(file, field, "repeats an index");
}

Sparsity parse_sparsity(const json& j, const std::string& path, const std::string& file) {
  Reader r(j, path, file);
  r.only({"kind", "fraction", "n", "m", "keep_heads", "keep_ffn", "keep_layers"});
  Sparsity s;
  const std::string kind = ascii_lower(r.str("kind", "none"));
  if (kind == "none") {
    r.only({"kind"});
  } else if (kind == "unstructured") {
    r.only({"kind", "fraction"});
    s.kind = SparsityKind::kUnstructured;
    if (!r.has("fraction")) fail(file, r.field("fraction"), "missing (share of zeros, 0 < f < 1)");
    s.fraction = r.number("fraction", 0);
    if (!(s.fraction > 0 && s.fraction < 1))
      fail(file, r.field("fraction"), "must lie strictly between 0 and 1");
  } else if (kind == "n:m") {
    r.only({"kind", "n", "m"});
    s.kind = SparsityKind::kNM;
    if (!r.has("n") || !r.has("m")) fail(file, path, "N:M sparsity needs both 'n' and 'm'");
    s.n = r.integer("n", 0);
    s.m = r.integer("m", 0);
    if (s.m < 2) fail(file, r.field("m"), "group length must be at least 2");
    if (s.n < 1 || s.n >= s.m) fail(file, r.field("n"), "must lie in 1 .. m-1");
  } else if (kind == "structured") {
    r.only({"kind", "keep_heads", "keep_ffn", "keep_layers"});
    s.kind = SparsityKind::kStructured;
    s.keep_heads = r.int_list("keep_heads");
    s.keep_ffn = r.int_list("keep_ffn");
    s.keep_layers = r.int_list("keep_layers");
    if (s.keep_heads.empty() && s.keep_ffn.empty() && s.keep_layers.empty())
      fail(file, path, "structured sparsity needs keep_heads, keep_ffn or keep_layers");
    check_unique_indices(s.keep_heads, r.field("keep_heads"), file);
    check_unique_indices(s.keep_ffn, r.field("keep_ffn"), file);
    check_unique_indices(s.keep_layers, r.field("keep_layers"), file);
  } else {
    fail(file, r.field("kind"),
         "unknown sparsity '" + kind + "' (known: none, unstructured, n:m, structured)");
  }
  return s;
}

TensorRule parse_rule(const json& j, const std::string& path, const std::string& file) {
  Reader r(j, path, file);
  r.only({"match", "layers", "format", "packing", "sparsity", "method"});
  TensorRule rule;
  if (!r.has("match")) fail(file, r.field("match"), "missing (a regex over tensor names)");
  rule.match = r.str("match");
  try {
    std::regex re(rule.match, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    fail(file, r.field("match"), "invalid regex '" + rule.match + "': " + e.what());
  }
  if (r.has("layers")) {
    const std::vector<int> l = r.int_list("layers");
    if (l.size() != 2) fail(file, r.field("layers"), "must be [first, last]");
    if (l[0] < 0 || l[1] < l[0]) fail(file, r.field("layers"), "needs 0 <= first <= last");
    rule.layer_first = l[0];
    rule.layer_last = l[1];
  }
  if (r.has("format"))
    rule.format = parse_format(ascii_lower(r.str("format")), r.field("format"), file);
  rule.packing = ascii_lower(r.str("packing", "default"));
  if (rule.packing != "default" && rule.packing != "none")
    fail(file, r.field("packing"), "unknown packing '" + rule.packing + "' (known: default, none)");
  if (r.has("sparsity"))
    rule.sparsity = parse_sparsity(r.at("sparsity"), r.field("sparsity"), file);
  if (r.has("method")) rule.method = parse_method(r.at("method"), r.field("method"), file);
  return rule;
}

RecoveryStep parse_recovery(const json& j, const std::string& path, const std::string& file) {
  Reader r(j, path, file);
  r.only({"kind", "params"});
  RecoveryStep s;
  s.kind = ascii_lower(r.str("kind"));
  if (s.kind != "lora" && s.kind != "qat" && s.kind != "distill")
    fail(file, r.field("kind"),
         "unknown recovery step '" + s.kind + "' (known: lora, qat, distill)");
  s.params = r.object("params");
  return s;
}

ExportTarget parse_export(const json& j, const std::string& path, const std::string& file) {
  Reader r(j, path, file);
  r.only({"format", "path"});
  ExportTarget e;
  e.format = ascii_lower(r.str("format", "gguf"));
  if (e.format != "gguf" && e.format != "safetensors")
    fail(file, r.field("format"),
         "unknown export format '" + e.format + "' (known: gguf, safetensors)");
  e.path = r.str("path");
  return e;
}

// Parses a JSON array field element by element.
template <typename T, typename F>
std::vector<T> parse_list(const Reader& r, const char* key, const std::string& file, F parse_one) {
  std::vector<T> out;
  if (!r.has(key)) return out;
  if (!r.at(key).is_array()) fail(file, r.field(key), "must be an array");
  for (size_t i = 0; i < r.at(key).size(); ++i)
    out.push_back(parse_one(r.at(key)[i], r.field(key) + "[" + std::to_string(i) + "]", file));
  return out;
}

ojson method_json(const MethodSpec& m) {
  ojson j = {{"name", m.name}};
  if (!m.params.empty()) j["params"] = m.params;
  return j;
}

ojson sparsity_json(const Sparsity& s) {
  switch (s.kind) {
    case SparsityKind::kNone:
      return {{"kind", "none"}};
    case SparsityKind::kUnstructured:
      return {{"kind", "unstructured"}, {"fraction", s.fraction}};
    case SparsityKind::kNM:
      return {{"kind", "n:m"}, {"n", s.n}, {"m", s.m}};
    case SparsityKind::kStructured: {
      ojson j = {{"kind", "structured"}};
      if (!s.keep_heads.empty()) j["keep_heads"] = s.keep_heads;
      if (!s.keep_ffn.empty()) j["keep_ffn"] = s.keep_ffn;
      if (!s.keep_layers.empty()) j["keep_layers"] = s.keep_layers;
      return j;
    }
  }
  return {};
}

}  // namespace

const std::vector<std::string>& recipe_method_names() {
  static const std::vector<std::string> names = {"rtn",         "imatrix",   "gptq",  "awq",
                                                 "smoothquant", "magnitude", "wanda", "sparsegpt"};
  return names;
}

int tensor_layer(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  size_t i = 4;
  long v = 0;
  bool any = false;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && v < 1000000) {
    v = v * 10 + (name[i] - '0');
    any = true;
    ++i;
  }
  return any ? static_cast<int>(v) : -1;
}

Recipe parse_recipe(std::string_view json_text, const std::string& file) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw Error(std::string("not valid JSON: ") + e.what(), file);
  }
  Reader r(j, "", file);
  r.only({"schema_version", "name", "base", "pure", "method", "rules", "recovery", "export",
          "device"});
  Recipe rec;
  if (!r.has("schema_version")) fail(file, "schema_version", "missing");
  rec.schema_version = r.integer("schema_version", 0);
  if (rec.schema_version != kRecipeSchemaVersion)
    fail(file, "schema_version",
         "version " + std::to_string(rec.schema_version) +
             " is not supported (this edgefit reads " + std::to_string(kRecipeSchemaVersion) + ")");
  rec.base = ascii_lower(r.str("base", rec.base));
  if (!find_quant_preset(rec.base))
    fail(file, "base", "unknown preset '" + rec.base + "' (known: " + quant_preset_names() + ")");
  rec.name = r.str("name", rec.base);
  rec.pure = r.boolean("pure", false);
  if (r.has("method")) rec.method = parse_method(r.at("method"), "method", file);
  rec.rules = parse_list<TensorRule>(r, "rules", file, parse_rule);
  rec.recovery = parse_list<RecoveryStep>(r, "recovery", file, parse_recovery);
  rec.exports = parse_list<ExportTarget>(r, "export", file, parse_export);
  rec.device = r.str("device");
  return rec;
}

Recipe read_recipe(const std::string& path) {
  return parse_recipe(read_file(path), path);
}

nlohmann::ordered_json recipe_to_json(const Recipe& rec) {
  ojson j = {{"schema_version", rec.schema_version}, {"name", rec.name}, {"base", rec.base}};
  if (rec.pure) j["pure"] = true;
  j["method"] = method_json(rec.method);
  ojson rules = ojson::array();
  for (const auto& rule : rec.rules) {
    ojson r = {{"match", rule.match}};
    if (rule.layer_first) r["layers"] = {*rule.layer_first, *rule.layer_last};
    if (rule.format) r["format"] = ascii_lower(dtype_name(*rule.format));
    if (rule.packing != "default") r["packing"] = rule.packing;
    if (rule.sparsity.kind != SparsityKind::kNone) r["sparsity"] = sparsity_json(rule.sparsity);
    if (rule.method) r["method"] = method_json(*rule.method);
    rules.push_back(std::move(r));
  }
  j["rules"] = std::move(rules);
  ojson recovery = ojson::array();
  for (const auto& s : rec.recovery) recovery.push_back({{"kind", s.kind}, {"params", s.params}});
  j["recovery"] = std::move(recovery);
  ojson exports = ojson::array();
  for (const auto& e : rec.exports) {
    ojson x = {{"format", e.format}};
    if (!e.path.empty()) x["path"] = e.path;
    exports.push_back(std::move(x));
  }
  j["export"] = std::move(exports);
  if (!rec.device.empty()) j["device"] = rec.device;
  return j;
}

void write_recipe(const Recipe& recipe, const std::string& path) {
  write_file_atomic(path, recipe_to_json(recipe).dump(2) + "\n");
}

void check_recipe_against_model(const Recipe& rec, const Model& model, const std::string& file) {
  const ArchConfig& c = model.config;
  for (size_t i = 0; i < rec.rules.size(); ++i) {
    const TensorRule& rule = rec.rules[i];
    const std::string path = "rules[" + std::to_string(i) + "]";
    if (rule.layer_last && *rule.layer_last >= c.n_layers)
      fail(file, path + ".layers",
           "layer " + std::to_string(*rule.layer_last) + " is beyond the model's " +
               std::to_string(c.n_layers) + " layers (0.." + std::to_string(c.n_layers - 1) + ")");
    const Sparsity& s = rule.sparsity;
    auto check_keep = [&](const std::vector<int>& keep, int count, const char* what,
                          const char* key) {
      for (int k : keep)
        if (k >= count)
          fail(file, path + ".sparsity." + key,
               std::string(what) + " " + std::to_string(k) + " does not exist (the model has " +
                   std::to_string(count) + ")");
    };
    check_keep(s.keep_heads, c.n_heads, "head", "keep_heads");
    check_keep(s.keep_ffn, c.d_ff, "FFN channel", "keep_ffn");
    check_keep(s.keep_layers, c.n_layers, "layer", "keep_layers");
    const std::regex re(rule.match, std::regex::ECMAScript);
    for (const auto& t : model.tensors) {
      if (!std::regex_search(t.name, re)) continue;
      const int layer = tensor_layer(t.name);
      if (rule.layer_first && (layer < *rule.layer_first || layer > *rule.layer_last)) continue;
      const int64_t row = t.view.ndim > 0 ? t.view.shape[t.view.ndim - 1] : 1;
      if (s.kind == SparsityKind::kNM && row % s.m != 0)
        fail(file, path + ".sparsity",
             std::to_string(s.n) + ":" + std::to_string(s.m) +
                 " groups do not divide the row width " + std::to_string(row) + " of " + t.name);
      if (rule.format && t.view.ndim >= 2) {
        const auto* info = dtype_info(*rule.format);
        if (info && row % static_cast<int64_t>(info->block_size) != 0)
          fail(file, path + ".format",
               ascii_lower(dtype_name(*rule.format)) + " blocks of " +
                   std::to_string(info->block_size) + " do not divide the row width " +
                   std::to_string(row) + " of " + t.name);
      }
    }
  }
}

}  // namespace edgefit
