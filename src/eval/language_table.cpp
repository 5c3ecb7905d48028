#include "eval/language_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"

namespace edgefit {

namespace fs = std::filesystem;

std::vector<std::string> language_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("not a directory", dir);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.' || !e.is_regular_file(ec)) continue;
    files.push_back(e.path().string());
  }
  if (ec) throw Error("cannot list directory: " + ec.message(), dir);
  if (files.empty()) throw Error("directory holds no text files", dir);
  std::sort(files.begin(), files.end());
  return files;
}

double delta_ppl_percent(const EvalResult& r) {
  if (!r.base) return NAN;
  return 100.0 * (r.model.ppl() / r.base->ppl() - 1.0);
}

LanguageTable evaluate_languages(Transformer& model, Transformer* base, const Tokenizer& tok,
                                 const std::string& dir, const EvalOptions& opt) {
  LanguageTable t;
  const std::vector<std::string> files = language_files(dir);
  for (const std::string& f : files) {
    const std::string text = read_file(f);
    EvalOptions o = opt;
    o.label = fs::path(f).stem().string();
    LanguageResult row{o.label, f, evaluate_text(model, base, tok, text, f, o)};
    t.pooled.merge(row.result);
    t.rows.push_back(std::move(row));
  }
  double worst_score = -INFINITY;
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const EvalResult& r = t.rows[i].result;
    const double score = r.kld ? r.kld->mean() : r.model.ppl();
    if (score > worst_score) {
      worst_score = score;
      t.worst = static_cast<int>(i);
    }
  }
  return t;
}

std::string format_language_table(const LanguageTable& t) {
  const bool with_base = !t.rows.empty() && t.rows[0].result.kld.has_value();
  std::string s;
  char line[256];
  if (with_base)
    std::snprintf(line, sizeof line, "  %-12s %9s %10s %10s %9s %8s\n", "language", "tokens", "PPL",
                  "dPPL %", "KLD", "top-1");
  else
    std::snprintf(line, sizeof line, "  %-12s %9s %10s %12s\n", "language", "tokens", "PPL", "+/-");
  s += line;
  auto add_row = [&](const std::string& name, const EvalResult& r, bool worst) {
    const char mark = worst ? '*' : ' ';
    if (with_base)
      std::snprintf(line, sizeof line, "%c %-12s %9lld %10.4f %+10.3f %9.5f %7.2f%%\n", mark,
                    name.c_str(), static_cast<long long>(r.model.count), r.model.ppl(),
                    delta_ppl_percent(r), r.kld->mean(), 100.0 * r.kld->top1_agreement());
    else
      std::snprintf(line, sizeof line, "%c %-12s %9lld %10.4f %12.5f\n", mark, name.c_str(),
                    static_cast<long long>(r.model.count), r.model.ppl(), r.model.ppl_stderr());
    s += line;
  };
  for (size_t i = 0; i < t.rows.size(); ++i)
    add_row(t.rows[i].language, t.rows[i].result, static_cast<int>(i) == t.worst);
  add_row("(all)", t.pooled, false);
  if (t.worst >= 0)
    s += "* worst language: " + t.rows[static_cast<size_t>(t.worst)].language +
         (with_base ? " (highest mean KLD)\n" : " (highest perplexity)\n");
  return s;
}

}  // namespace edgefit
