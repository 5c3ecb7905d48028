#include "report/compress_report.h"

#include <cstdio>
#include <regex>
#include <set>

#include "report/svg_chart.h"

namespace edgefit {
namespace {

using ojson = nlohmann::ordered_json;

ojson quality_json(const QualityResult& q) {
  return {{"ppl", q.ppl},         {"ppl_stderr", q.ppl_stderr}, {"kld_mean", q.kld_mean},
          {"kld_p99", q.kld_p99}, {"top1_agreement", q.top1},   {"n_tokens", q.n_tokens}};
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

const CandidateResult* chosen(const CompressReport& r) {
  return r.chosen >= 0 ? &r.candidates[static_cast<size_t>(r.chosen)] : nullptr;
}

// The weights' sparsity across layers, one line per matrix kind (a pruned candidate only).
std::string sparsity_chart(const CandidateResult& c) {
  static const std::regex layer_re(R"(blk\.(\d+)\.([a-z_]+)\.weight)");
  std::map<std::string, LineSeries> kinds;
  for (const auto& [name, z] : c.tensor_sparsity) {
    std::smatch m;
    if (!std::regex_match(name, m, layer_re)) continue;
    auto& s = kinds[m[2]];
    s.name = m[2];
    s.x.push_back(std::stod(m[1]));
    s.y.push_back(100.0 * z);
  }
  std::vector<LineSeries> series;
  for (auto& [k, s] : kinds) series.push_back(s);
  return svg_line_chart(series, {"Sparsity across layers (" + c.recipe + ", as stored)",
                                 "layer (block index)", "exact zeros (%)", 520, 320});
}

// The per-layer sparsity table: the share of exact zeros in each block's matrices.
std::string sparsity_table(const CandidateResult& c) {
  std::string h = "<h2>Sparsity per layer (" + xml_escape(c.recipe) +
                  ")</h2><table id=\"sparsity\"><tr><th>layer</th><th>exact zeros %</th></tr>";
  for (size_t l = 0; l < c.layer_sparsity.size(); ++l)
    if (c.layer_sparsity[l] >= 0)
      h += "<tr><td>" + std::to_string(l) + "</td><td>" + fmt("%.2f", 100.0 * c.layer_sparsity[l]) +
           "</td></tr>";
  return h + "</table>";
}

}  // namespace

nlohmann::ordered_json report_to_json(const CompressReport& r) {
  ojson j;
  j["model"] = r.model;
  j["architecture"] = r.architecture;
  j["n_params"] = r.n_params;
  j["device"] = {{"id", r.device.id},
                 {"name", r.device.name},
                 {"ram_bytes", r.device.ram_bytes},
                 {"storage_bytes", r.device.storage_bytes},
                 {"bandwidth_gbs", r.device.bandwidth_gbs},
                 {"cores", r.device.cores},
                 {"measured", r.device.measured}};
  j["context"] = r.context;
  j["max_ppl_increase_pct"] = r.max_ppl_increase_pct;
  j["objective"] = r.objective;
  j["min_tps"] = r.min_tps;
  j["target_size_bytes"] = r.target_size_bytes;
  j["decision"] = {
      {"reason", r.decision},
      {"chosen",
       r.chosen >= 0 ? ojson(r.candidates[static_cast<size_t>(r.chosen)].recipe) : ojson(nullptr)},
      {"chosen_method",
       r.chosen >= 0 ? ojson(r.candidates[static_cast<size_t>(r.chosen)].method) : ojson(nullptr)},
      {"runner_up", r.runner_up >= 0 ? ojson(r.candidates[static_cast<size_t>(r.runner_up)].recipe)
                                     : ojson(nullptr)},
      {"runner_up_method", r.runner_up >= 0
                               ? ojson(r.candidates[static_cast<size_t>(r.runner_up)].method)
                               : ojson(nullptr)}};
  j["baseline"] = quality_json(r.baseline);
  if (const CandidateResult* c = chosen(r)) {
    j["chosen"] = {{"recipe", c->recipe},
                   {"method", c->method},
                   {"file", c->file},
                   {"file_bytes", c->cost.file_bytes},
                   {"bits_per_weight", c->cost.bits_per_weight},
                   {"fits", c->cost.fits()},
                   {"runtime_bytes", c->cost.runtime_bytes},
                   {"predicted_tps", c->cost.predicted_tps},
                   {"kld_mean", c->overall.kld_mean},
                   {"ppl", c->overall.ppl},
                   {"max_dppl_pct", c->max_dppl_pct}};
    j["recipe"] = c->recipe_json;  // what `edgefit quantize --recipe` reproduces
  } else {
    j["chosen"] = nullptr;
  }
  auto& cands = j["candidates"] = ojson::array();
  for (const auto& c : r.candidates) {
    ojson cj = {{"recipe", c.recipe},
                {"method", c.method},
                {"built", c.built},
                {"file", c.file},
                {"file_bytes", c.cost.file_bytes},
                {"bits_per_weight", c.cost.bits_per_weight},
                {"runtime_bytes", c.cost.runtime_bytes},
                {"fits", c.cost.fits()},
                {"fits_ram", c.cost.fits_ram},
                {"fits_storage", c.cost.fits_storage},
                {"roofline_tps", c.cost.roofline_tps},
                {"predicted_tps", c.cost.predicted_tps}};
    if (c.measured_tps >= 0) cj["measured_tps"] = c.measured_tps;
    if (c.built) {
      cj["kld_mean"] = c.overall.kld_mean;
      cj["ppl"] = c.overall.ppl;
      cj["top1_agreement"] = c.overall.top1;
      cj["max_dppl_pct"] = c.max_dppl_pct;
      if (!c.layer_sparsity.empty()) {
        cj["layer_sparsity"] = c.layer_sparsity;  // index = block; -1: nothing readable
        auto& ts = cj["tensor_sparsity"] = ojson::object();
        for (const auto& [name, z] : c.tensor_sparsity) ts[name] = z;
      }
    } else {
      cj["kld_mean"] = nullptr;
      cj["ppl"] = nullptr;
    }
    cands.push_back(cj);
  }
  auto& langs = j["languages"] = ojson::object();
  if (const CandidateResult* c = chosen(r)) {
    for (const auto& [lang, q] : c->languages) {
      const auto base = r.baseline_languages.find(lang);
      const double pb = base != r.baseline_languages.end() ? base->second.ppl : 0;
      langs[lang] = {{"ppl_base", pb},
                     {"ppl", q.ppl},
                     {"dppl_pct", pb > 0 ? 100.0 * (q.ppl / pb - 1) : 0},
                     {"kld_mean", q.kld_mean},
                     {"top1_agreement", q.top1},
                     {"n_tokens", q.n_tokens}};
    }
  }
  j["warnings"] = r.warnings;
  j["elapsed_s"] = r.elapsed_s;
  return j;
}

std::string report_to_html(const CompressReport& r) {
  const CandidateResult* c = chosen(r);
  std::string h =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>edgefit report: " +
      xml_escape(r.model) +
      "</title><style>"
      "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#1a202c}"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #cbd5e0;padding:4px "
      "8px;text-align:right}"
      "th{background:#edf2f7}td:first-child,th:first-child{text-align:left}.warn{color:#c53030}"
      ".notes "
      "td{text-align:left}.chosen{background:#f0fff4}.charts{display:flex;flex-wrap:wrap;gap:16px}"
      "</style></head><body>";
  h += "<h1>edgefit compress report</h1><p><b>Model</b> " + xml_escape(r.model) + " (" +
       xml_escape(r.architecture) + ", " + fmt("%.2f", r.n_params / 1e6) +
       " M parameters)<br><b>Device</b> " + xml_escape(r.device.name) + " — RAM budget " +
       format_bytes(r.device.ram_bytes) + ", storage " + format_bytes(r.device.storage_bytes) +
       ", " + fmt("%.1f", r.device.bandwidth_gbs) + " GB/s<br><b>Context</b> " +
       std::to_string(r.context) + " tokens; <b>objective</b> " + xml_escape(r.objective) +
       (r.min_tps > 0 ? ", at least " + fmt("%g", r.min_tps) + " tokens/s predicted"
                      : std::string()) +
       (r.target_size_bytes > 0 ? ", file ≤ " + format_bytes(r.target_size_bytes) : std::string()) +
       "; <b>quality bound</b> ΔPPL ≤ " + fmt("%.1f", r.max_ppl_increase_pct) +
       " % per language</p>";
  if (c) {
    h += "<h2>Chosen: " + xml_escape(c->recipe) + " (" + xml_escape(c->method) + ")</h2><p>" +
         xml_escape(c->file) + " — " + format_bytes(c->cost.file_bytes) + ", " +
         fmt("%.2f", c->cost.bits_per_weight) + " bits per weight, runtime memory " +
         format_bytes(c->cost.runtime_bytes) + ", predicted " + fmt("%.1f", c->cost.predicted_tps) +
         " tokens/s, mean KLD " + fmt("%.5f", c->overall.kld_mean) + "</p>";
    h += "<p id=\"decision\"><b>Why</b> " + xml_escape(r.decision) + "</p>";
  } else {
    h += "<h2 class=\"warn\">No recipe qualifies for this device</h2><p id=\"decision\">" +
         xml_escape(r.decision) + "</p>";
  }
  if (!r.warnings.empty()) {
    h += "<h2>Warnings</h2><ul class=\"warn\" id=\"warnings\">";
    for (const auto& w : r.warnings) h += "<li>" + xml_escape(w) + "</li>";
    h += "</ul>";
  }

  // Charts.
  h += "<h2>Charts</h2><div class=\"charts\">";
  std::vector<ScatterPoint> kld_pts, ppl_pts;
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const auto& k = r.candidates[i];
    if (!k.built) continue;
    const double mb = k.cost.file_bytes / 1048576.0;
    const std::string label =
        k.method == "gptq" ? k.recipe + " gptq" : k.recipe;  // same size, other method
    kld_pts.push_back({label, mb, k.overall.kld_mean, static_cast<int>(i) == r.chosen});
    ppl_pts.push_back({label, mb, k.overall.ppl, static_cast<int>(i) == r.chosen});
  }
  h += svg_scatter_chart(kld_pts, {"File size vs KL-divergence", "file size (MiB)",
                                   "mean KLD (nats per token)", 520, 320});
  h += svg_scatter_chart(ppl_pts, {"File size vs perplexity", "file size (MiB)",
                                   "perplexity, all languages (per token)", 520, 320});
  if (c) {
    std::vector<BarItem> bars;
    double mean = 0;
    int n = 0;
    for (const auto& [lang, q] : c->languages) {
      const auto base = r.baseline_languages.find(lang);
      if (base == r.baseline_languages.end() || base->second.ppl <= 0) continue;
      const double d = 100.0 * (q.ppl / base->second.ppl - 1);
      bars.push_back({lang, d, d > r.max_ppl_increase_pct});
      mean += d;
      ++n;
    }
    h += svg_bar_chart(bars,
                       {"ΔPPL per language (" + c->recipe + ")", "language (eval file)",
                        "ΔPPL vs full precision (%)", 520, 320},
                       &r.max_ppl_increase_pct, "bound");
    // Bits per tensor across layers, one line per weight-matrix kind. The norms (1-D, always
    // 32-bit) are left out: on one scale with them, every quantized line sits flat at the bottom.
    static const std::regex layer_re(R"(blk\.(\d+)\.([a-z_]+)\.weight)");
    std::map<std::string, LineSeries> kinds;
    for (const auto& [name, bits] : c->tensor_bits) {
      std::smatch m;
      if (!std::regex_match(name, m, layer_re) || m[2].str().find("norm") != std::string::npos)
        continue;
      auto& s = kinds[m[2]];
      s.name = m[2];
      s.x.push_back(std::stod(m[1]));
      s.y.push_back(bits);
    }
    std::vector<LineSeries> series;
    for (auto& [k, s] : kinds) series.push_back(s);
    h += svg_line_chart(series,
                        {"Bits per weight across layers (" + c->recipe + "; F32 norms left out)",
                         "layer (block index)", "bits per weight", 520, 320});
    if (!c->tensor_sparsity.empty()) h += sparsity_chart(*c);
  }
  {
    LineSeries roof{"roofline", {}, {}, true}, pred{"predicted", {}, {}, false},
        meas{"measured", {}, {}, false};
    for (const auto& k : r.candidates) {
      roof.x.push_back(k.cost.bits_per_weight);
      roof.y.push_back(k.cost.roofline_tps);
      pred.x.push_back(k.cost.bits_per_weight);
      pred.y.push_back(k.cost.predicted_tps);
      if (k.measured_tps >= 0) {
        meas.x.push_back(k.cost.bits_per_weight);
        meas.y.push_back(k.measured_tps);
      }
    }
    std::vector<LineSeries> s = {roof, pred};
    if (!meas.x.empty()) s.push_back(meas);
    h += svg_line_chart(s, {"Decode speed vs the memory-bandwidth roofline", "bits per weight",
                            "decode tokens/s", 520, 320});
  }
  h += "</div>";

  // Tables.
  h +=
      "<h2>Candidates</h2><table id=\"candidates\"><tr><th>recipe</th><th>method</th><th>file "
      "size</th>"
      "<th>bits/weight</th><th>runtime memory</th><th>fits</th><th>predicted tok/s</th><th>PPL</th>"
      "<th>mean KLD</th><th>top-1</th><th>worst ΔPPL %</th></tr>";
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const auto& k = r.candidates[i];
    h += std::string("<tr") + (static_cast<int>(i) == r.chosen ? " class=\"chosen\"" : "") +
         "><td>" + xml_escape(k.recipe) + "</td><td>" + xml_escape(k.method) + "</td><td>" +
         format_bytes(k.cost.file_bytes) + "</td><td>" + fmt("%.2f", k.cost.bits_per_weight) +
         "</td><td>" + format_bytes(k.cost.runtime_bytes) + "</td><td" +
         (k.cost.fits() ? ">yes" : " class=\"warn\">no") + "</td><td>" +
         fmt("%.1f", k.cost.predicted_tps) + "</td>";
    if (k.built)
      h += "<td>" + fmt("%.3f", k.overall.ppl) + "</td><td>" + fmt("%.5f", k.overall.kld_mean) +
           "</td><td>" + fmt("%.3f", k.overall.top1) + "</td><td>" + fmt("%+.2f", k.max_dppl_pct) +
           "</td></tr>";
    else
      h += "<td colspan=\"4\">not built</td></tr>";
  }
  h += "</table>";
  if (c) {
    h += "<h2>Per language (" + xml_escape(c->recipe) +
         ")</h2><table id=\"languages\"><tr><th>language</th>"
         "<th>tokens</th><th>PPL base</th><th>PPL</th><th>ΔPPL %</th><th>mean "
         "KLD</th><th>top-1</th></tr>";
    for (const auto& [lang, q] : c->languages) {
      const auto base = r.baseline_languages.find(lang);
      const double pb = base != r.baseline_languages.end() ? base->second.ppl : 0;
      const double d = pb > 0 ? 100.0 * (q.ppl / pb - 1) : 0;
      h += "<tr><td>" + xml_escape(lang) + "</td><td>" + std::to_string(q.n_tokens) + "</td><td>" +
           fmt("%.3f", pb) + "</td><td>" + fmt("%.3f", q.ppl) + "</td><td" +
           (d > r.max_ppl_increase_pct ? " class=\"warn\"" : "") + ">" + fmt("%+.2f", d) +
           "</td><td>" + fmt("%.5f", q.kld_mean) + "</td><td>" + fmt("%.3f", q.top1) + "</td></tr>";
    }
    h += "</table>";
    if (!c->layer_sparsity.empty()) h += sparsity_table(*c);
  }
  h += "<h2>Device profile</h2><table class=\"notes\"><tr><th>field</th><th>source</th></tr>";
  for (const auto& [k, note] : r.device.notes)
    h += "<tr><td>" + xml_escape(k) + "</td><td>" + xml_escape(note) + "</td></tr>";
  h += "</table><p>Generated by edgefit in " + fmt("%.1f", r.elapsed_s) + " s.</p></body></html>\n";
  return h;
}

}  // namespace edgefit
