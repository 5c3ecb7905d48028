// The compress report: JSON fields the issue names, and the HTML page rendered in headless
// Chromium (Debian's chromium package) — it must load without console errors and show all charts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/atomic_file.h"
#include "report/compress_report.h"
#include "report/svg_chart.h"
#include "test_data.h"

namespace edgefit {
namespace {

CompressReport sample_report() {
  CompressReport r;
  r.model = "polyglot <test> & co";
  r.architecture = "llama";
  r.n_params = 8916224;
  r.device = load_device("raspberry-pi-5");
  r.context = 2048;
  r.max_ppl_increase_pct = 5;
  r.baseline = {100, 1, 0, 0, 1, 5000};
  for (const char* lang : {"deu", "eng-US", "jpn", "tha"})
    r.baseline_languages[lang] = {100, 1, 0, 0, 1, 1000};
  const char* recipes[] = {"q2_k", "q4_k_m", "q8_0"};
  const double bits[] = {2.9, 4.8, 8.5};
  for (int i = 0; i < 3; ++i) {
    CandidateResult c;
    c.recipe = recipes[i];
    c.method = "imatrix";
    c.file = std::string("out/") + recipes[i] + ".gguf";
    c.built = true;
    c.cost.file_bytes = static_cast<uint64_t>(bits[i] * 1.1e6);
    c.cost.bits_per_weight = bits[i];
    c.cost.roofline_tps = 1000 / bits[i];
    c.cost.predicted_tps = 800 / bits[i];
    c.cost.fits_ram = c.cost.fits_storage = true;
    c.measured_tps = i == 1 ? 150 : -1;
    c.overall = {100 + 10.0 / (i + 1), 1, 0.03 / (i + 1), 0.1, 0.9, 5000};
    for (const char* lang : {"deu", "eng-US", "jpn", "tha"})
      c.languages[lang] = {100 + (lang[0] == 't' ? 9.0 : 2.0) / (i + 1), 1, 0.01, 0.1, 0.95, 1000};
    c.max_dppl_pct = 9.0 / (i + 1);
    for (int l = 0; l < 6; ++l) {
      for (const char* k : {"attn_q", "ffn_down"})
        c.tensor_bits.emplace_back("blk." + std::to_string(l) + "." + k + ".weight",
                                   bits[i] + (k[0] == 'f' ? 1 : 0));
      c.tensor_bits.emplace_back("blk." + std::to_string(l) + ".attn_norm.weight",
                                 32.0);  // F32, as in every recipe
    }
    r.candidates.push_back(c);
  }
  r.chosen = 1;
  r.runner_up = 2;
  r.decision = "q4_k_m won on quality: the lowest mean KLD; runner-up q8_0 with mean KLD 0.01000.";
  r.warnings = {"language tha: ΔPPL +4.50 % is more than twice the mean"};
  return r;
}

TEST(CompressReport, JsonHasTheDocumentedFields) {
  const auto j = report_to_json(sample_report());
  EXPECT_EQ(j["device"]["id"], "raspberry-pi-5");
  for (const char* k : {"recipe", "file", "file_bytes", "bits_per_weight", "fits"})
    EXPECT_TRUE(j["chosen"].contains(k)) << k;
  EXPECT_EQ(j["chosen"]["recipe"], "q4_k_m");
  ASSERT_EQ(j["candidates"].size(), 3u);
  for (const auto& c : j["candidates"])
    for (const char* k : {"recipe", "file_bytes", "kld_mean", "ppl"})
      EXPECT_TRUE(c.contains(k)) << k;
  ASSERT_EQ(j["languages"].size(), 4u);
  for (const char* k : {"ppl_base", "ppl", "dppl_pct", "kld_mean"})
    EXPECT_TRUE(j["languages"]["tha"].contains(k)) << k;
  EXPECT_NEAR(j["languages"]["tha"]["dppl_pct"].get<double>(), 4.5, 1e-9);
  EXPECT_EQ(j["warnings"].size(), 1u);
  EXPECT_EQ(j["objective"], "quality");
  EXPECT_EQ(j["decision"]["reason"],
            "q4_k_m won on quality: the lowest mean KLD; runner-up q8_0 with mean KLD 0.01000.");
  EXPECT_EQ(j["decision"]["chosen"], "q4_k_m");
  EXPECT_EQ(j["decision"]["runner_up"], "q8_0");
}

TEST(CompressReport, PrunedCandidateShowsItsSparsityPerLayer) {
  CompressReport r = sample_report();
  CandidateResult& c = r.candidates[1];  // the chosen one
  for (int l = 0; l < 6; ++l) {
    c.tensor_sparsity.emplace_back("blk." + std::to_string(l) + ".ffn_up.weight", 0.1 * l);
    c.layer_sparsity.push_back(0.05 * l);
  }
  const auto j = report_to_json(r);
  EXPECT_FALSE(j["candidates"][0].contains("layer_sparsity"));  // not pruned: no key
  ASSERT_EQ(j["candidates"][1]["layer_sparsity"].size(), 6u);
  EXPECT_DOUBLE_EQ(j["candidates"][1]["layer_sparsity"][4].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(j["candidates"][1]["tensor_sparsity"]["blk.3.ffn_up.weight"].get<double>(),
                   0.1 * 3);
  const std::string html = report_to_html(r);
  EXPECT_NE(html.find("Sparsity across layers (q4_k_m"), std::string::npos);
  EXPECT_NE(html.find("<table id=\"sparsity\">"), std::string::npos);
  EXPECT_NE(html.find("<tr><td>5</td><td>25.00</td></tr>"), std::string::npos);
  EXPECT_EQ(report_to_html(sample_report()).find("id=\"sparsity\""), std::string::npos);
}

TEST(CompressReport, HtmlSaysWhyTheRecipeWon) {
  const std::string html = report_to_html(sample_report());
  EXPECT_NE(html.find("<p id=\"decision\"><b>Why</b> q4_k_m won on quality: the lowest mean KLD; "
                      "runner-up q8_0"),
            std::string::npos);
}

TEST(SvgChart, TicksAreOneTwoFiveSteps) {
  // The ranges that gave 3.712 / 5.187 style ticks before.
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{{3.712, 9.31},
                                                                     {0.000071, 0.0281},
                                                                     {101.3, 111.2},
                                                                     {-2.3, 7.9},
                                                                     {0, 1},
                                                                     {4.1e6, 9.9e6}}) {
    const Ticks t = nice_ticks(lo, hi);
    SCOPED_TRACE(std::to_string(lo) + " … " + std::to_string(hi) + ": step " +
                 std::to_string(t.step));
    const double mantissa = t.step / std::pow(10.0, std::floor(std::log10(t.step) + 1e-12));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 ||
                std::fabs(mantissa - 5) < 1e-9);
    EXPECT_LE(t.first, lo);
    EXPECT_GE(t.last(), hi);
    EXPECT_NEAR(t.first / t.step, std::round(t.first / t.step), 1e-9);  // on a multiple of the step
    EXPECT_LE(t.count, 6);
    EXPECT_GE(t.count, 3);
  }
  EXPECT_EQ(nice_ticks(3.712, 9.31).step, 2);
  EXPECT_EQ(nice_ticks(3.712, 9.31).first, 2);
}

// Every tick label a chart prints, per axis.
std::vector<double> tick_values(const std::string& svg, const std::string& axis) {
  std::vector<double> v;
  static const std::regex re("<text class=\"tick ([xy])\"[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it)
    if ((*it)[1] == axis) v.push_back(std::stod((*it)[2]));
  return v;
}

// The legend rows end above the plot's top edge (where the y axis starts): they cover no data.
void expect_legend_above_plot(const std::string& svg, int entries) {
  std::smatch frame;
  ASSERT_TRUE(
      std::regex_search(svg, frame, std::regex("<line class=\"frame\" x1=\"\\d+\" y1=\"(\\d+)\"")));
  const std::regex legend_re(
      "<g class=\"legend\"><rect x=\"(\\d+)\" y=\"(\\d+)\" width=\"10\" height=\"10\"");
  int n = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), legend_re);
       it != std::sregex_iterator(); ++it, ++n) {
    EXPECT_LE(std::stoi((*it)[2]) + 10, std::stoi(frame[1]));
    EXPECT_LT(std::stoi((*it)[1]), 520 - 40) << "legend entry starts outside the chart";
  }
  EXPECT_EQ(n, entries);
}

TEST(SvgChart, LegendsWrapIntoRowsAboveThePlot) {
  std::vector<LineSeries> s;
  for (const char* k :
       {"attn_k", "attn_output", "attn_q", "attn_v", "ffn_down", "ffn_gate", "ffn_up"})
    s.push_back({k, {0, 1, 2}, {4.5, 4.5, 6.5}, false});
  expect_legend_above_plot(
      svg_line_chart(s, {"bits", "layer (block index)", "bits per weight", 520, 320}), 7);
}

TEST(SvgChart, ChartsShowRoundTicksAndLegendsAboveThePlot) {
  const std::vector<LineSeries> s = {{"roofline", {2.9, 4.8, 8.5}, {344.8, 208.3, 117.6}, true},
                                     {"predicted", {2.9, 4.8, 8.5}, {275.9, 166.7, 94.1}, false}};
  const std::string svg =
      svg_line_chart(s, {"speed", "bits per weight", "decode tokens/s", 520, 320});
  for (const char* axis : {"x", "y"}) {
    const auto t = tick_values(svg, axis);
    ASSERT_GE(t.size(), 3u) << axis;
    const double step = t[1] - t[0];
    for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, 1e-9) << axis;
    for (double v : t) EXPECT_NEAR(v / step, std::round(v / step), 1e-9) << axis << " tick " << v;
  }
  expect_legend_above_plot(svg, 2);
}

TEST(CompressReport, BitsPerLayerChartLeavesOutTheNormsAndEveryAxisHasAUnit) {
  const std::string html = report_to_html(sample_report());
  const size_t at = html.find("<title>Bits per weight across layers");
  ASSERT_NE(at, std::string::npos);
  const std::string svg = html.substr(at, html.find("</svg>", at) - at);
  EXPECT_EQ(svg.find("attn_norm"), std::string::npos);
  const auto y = tick_values(svg, "y");
  ASSERT_FALSE(y.empty());
  EXPECT_LT(y.back(), 10) << "the 32-bit norms squash the quantized lines";
  for (const char* label : {"file size (MiB)", "mean KLD (nats per token)",
                            "ΔPPL vs full precision (%)", "layer (block index)", "decode tokens/s"})
    EXPECT_NE(html.find(label), std::string::npos) << label;
}

TEST(CompressReport, HtmlEscapesAndIsSelfContained) {
  const std::string html = report_to_html(sample_report());
  EXPECT_NE(html.find("polyglot &lt;test&gt; &amp; co"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  size_t svgs = 0;
  for (size_t at = html.find("<svg "); at != std::string::npos; at = html.find("<svg ", at + 1))
    ++svgs;
  EXPECT_EQ(svgs, 5u);
}

// Renders the page as a person would see it.
TEST(CompressReport, RendersInHeadlessChromiumWithEveryChart) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/chromium"))
      << "install Debian's chromium (scripts/setup.sh)";
  const std::string dir = test::scratch_dir("report_html");
  write_file_atomic(dir + "/report.html", report_to_html(sample_report()));
  const std::string flags =
      "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking "
      "--disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir=" +
      dir +
      "/profile "
      "--enable-logging=stderr --v=0 --virtual-time-budget=3000 ";
  const std::string url = "file://" + dir + "/report.html";
  ASSERT_EQ(std::system(("/usr/bin/chromium " + flags + "--window-size=1200,2400 --screenshot=" +
                         dir + "/report.png " + url + " > " + dir + "/shot.log 2>&1")
                            .c_str()),
            0)
      << read_file(dir + "/shot.log");
  ASSERT_TRUE(std::filesystem::exists(dir + "/report.png"));
  EXPECT_GT(std::filesystem::file_size(dir + "/report.png"), 20000u) << "screenshot looks blank";
  ASSERT_EQ(std::system(("/usr/bin/chromium " + flags + "--dump-dom " + url + " > " + dir +
                         "/dom.html 2> " + dir + "/dom.log")
                            .c_str()),
            0);
  const std::string dom = read_file(dir + "/dom.html");
  const std::string log = read_file(dir + "/shot.log") + read_file(dir + "/dom.log");
  EXPECT_EQ(log.find("CONSOLE"), std::string::npos) << log;
  EXPECT_EQ(log.find("Uncaught"), std::string::npos) << log;
  for (const char* title :
       {"File size vs KL-divergence", "File size vs perplexity", "ΔPPL per language",
        "Bits per weight across layers", "Decode speed vs the memory-bandwidth roofline"})
    EXPECT_NE(dom.find(std::string("<title>") + title), std::string::npos) << title;
  EXPECT_NE(dom.find("class=\"bar\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"point\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"series\""), std::string::npos);
}

}  // namespace
}  // namespace edgefit
