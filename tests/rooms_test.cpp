// The README's architecture section against the code: every folder under src/ is a room with a
// row in the README's table and every row is a folder; a room includes only rooms above it in
// that table (arrows only downward); and no source file reaches itself through its includes (no
// cycles between files). The table is read from README.md, so the check and the document cannot
// drift apart: moving a room means moving its row.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kSource = EDGEFIT_SOURCE_DIR;

// The rooms in the order of the README's architecture table (its `src/<room>/` rows).
std::vector<std::string> readme_rooms() {
  std::ifstream in(kSource / "README.md");
  EXPECT_TRUE(in.good()) << "cannot read README.md";
  const std::regex row(R"(^\| `src/([a-z_]+)/` \|)");
  std::vector<std::string> rooms;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("## ")) in_section = line == "## Architecture";
    std::smatch m;
    if (in_section && std::regex_search(line, m, row)) rooms.push_back(m[1]);
  }
  return rooms;
}

// The folders directly under src/.
std::set<std::string> source_rooms() {
  std::set<std::string> rooms;
  for (const auto& e : fs::directory_iterator(kSource / "src"))
    if (e.is_directory()) rooms.insert(e.path().filename().string());
  return rooms;
}

// One quoted include: the line it stands on and what it names ("model/block_linears.h").
struct Include {
  int line;            // 1-based line in the including file
  std::string target;  // the quoted path
};

// Every C++ file under src/ (path relative to src/) with its quoted includes.
std::map<std::string, std::vector<Include>> source_includes() {
  const std::regex include(R"re(^\s*#\s*include\s+"([^"]+)")re");
  std::map<std::string, std::vector<Include>> files;
  for (const auto& e : fs::recursive_directory_iterator(kSource / "src")) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp" && ext != ".inc")) continue;
    std::vector<Include>& incs = files[fs::relative(e.path(), kSource / "src").generic_string()];
    std::ifstream in(e.path());
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      std::smatch m;
      if (std::regex_search(line, m, include)) incs.push_back({n, m[1]});
    }
  }
  return files;
}

std::string room_of(const std::string& path) {
  return path.substr(0, path.find('/'));
}

TEST(Rooms, EveryFolderHasOneRowAndEveryRowAFolder) {
  const std::vector<std::string> table = readme_rooms();
  ASSERT_FALSE(table.empty()) << "no `src/<room>/` rows under README.md's ## Architecture";
  const std::set<std::string> rows(table.begin(), table.end());
  EXPECT_EQ(rows.size(), table.size()) << "a room has two rows in the README's table";
  for (const std::string& r : source_rooms())
    EXPECT_TRUE(rows.count(r)) << "src/" << r << "/ has no row in README.md's architecture table";
  const std::set<std::string> folders = source_rooms();
  for (const std::string& r : table)
    EXPECT_TRUE(folders.count(r)) << "README.md's architecture table names src/" << r
                                  << "/, which does not exist";
}

TEST(Rooms, IncludesPointOnlyToRoomsAbove) {
  const std::vector<std::string> table = readme_rooms();
  std::map<std::string, size_t> rank;
  for (size_t i = 0; i < table.size(); ++i) rank[table[i]] = i;
  int checked = 0;
  for (const auto& [file, incs] : source_includes()) {
    const std::string room = room_of(file);
    if (!rank.count(room)) continue;  // reported by the test above
    for (const Include& inc : incs) {
      const std::string target_room = room_of(inc.target);
      if (!rank.count(target_room) || target_room == room) continue;  // same room, or a sibling
      ++checked;
      EXPECT_LT(rank[target_room], rank[room])
          << "src/" << file << ":" << inc.line << " includes " << inc.target << ", but "
          << target_room << " is below " << room << " in README.md's architecture table";
    }
  }
  EXPECT_GT(checked, 100) << "the include scan found almost nothing: is EDGEFIT_SOURCE_DIR right?";
}

TEST(Rooms, NoIncludeCyclesBetweenFiles) {
  const auto files = source_includes();
  // Edges to files that exist under src/: "room/x.h" from anywhere, or a name beside the file.
  std::map<std::string, std::vector<std::string>> edges;
  for (const auto& [file, incs] : files)
    for (const Include& inc : incs) {
      const std::string beside = (fs::path(file).parent_path() / inc.target).generic_string();
      if (files.count(inc.target))
        edges[file].push_back(inc.target);
      else if (files.count(beside))
        edges[file].push_back(beside);
    }
  enum class Mark { kNew, kOpen, kDone };
  std::map<std::string, Mark> mark;
  std::vector<std::string> stack;  // the include chain being walked
  std::vector<std::string> cycles;
  std::function<void(const std::string&)> visit = [&](const std::string& f) {
    mark[f] = Mark::kOpen;
    stack.push_back(f);
    for (const std::string& g : edges[f]) {
      if (mark[g] == Mark::kOpen) {
        std::ostringstream chain;
        for (auto it = std::find(stack.begin(), stack.end(), g); it != stack.end(); ++it)
          chain << *it << " -> ";
        cycles.push_back(chain.str() + g);
      } else if (mark[g] == Mark::kNew) {
        visit(g);
      }
    }
    stack.pop_back();
    mark[f] = Mark::kDone;
  };
  for (const auto& [file, _] : files)
    if (mark[file] == Mark::kNew) visit(file);
  for (const std::string& c : cycles) ADD_FAILURE() << "include cycle: " << c;
}

}  // namespace
