// The README's tour shows lines of the examples. This test keeps them the same: every
// `<!-- tour: examples/FILE NAME -->` block in README.md must equal, after removing the
// common indentation, the lines between `// tour:begin NAME` and `// tour:end NAME` in
// that example (which compiles and runs as its own CTest entry), and every marked region
// must be shown. On a mismatch it prints the lines the README should hold.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

// PHYX_SOURCE_DIR: the repository root, defined by tests/CMakeLists.txt.

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::string dedented(const std::vector<std::string>& lines) {
  std::size_t indent = std::string::npos;
  for (const auto& l : lines) {
    if (!trim(l).empty()) indent = std::min(indent, l.find_first_not_of(' '));
  }
  std::string out;
  for (const auto& l : lines) out += (trim(l).empty() ? "" : l.substr(indent)) + "\n";
  return out;
}

/// The lines between the markers of `name` in `file`, dedented.
std::string region(const std::string& file, const std::string& name) {
  const auto lines = read_lines(std::string(PHYX_SOURCE_DIR) + "/" + file);
  const std::string begin = "// tour:begin " + name + " ";
  const std::string end = "// tour:end " + name;
  auto b = std::find_if(lines.begin(), lines.end(),
                        [&](const std::string& l) { return trim(l).rfind(begin, 0) == 0; });
  REQUIRE_MESSAGE(b != lines.end(), file << " has no '" << begin << "' line");
  auto e = std::find_if(b, lines.end(), [&](const std::string& l) { return trim(l) == end; });
  REQUIRE_MESSAGE(e != lines.end(), file << " has no '" << end << "' line");
  return dedented({b + 1, e});
}

}  // namespace

TEST_CASE(
    "every README tour snippet is the marked region of its example, and every region is "
    "shown") {
  const auto readme = read_lines(std::string(PHYX_SOURCE_DIR) + "/README.md");
  const std::string tag = "<!-- tour: ";
  std::set<std::pair<std::string, std::string>> shown;
  for (std::size_t i = 0; i < readme.size(); ++i) {
    if (readme[i].rfind(tag, 0) != 0) continue;
    std::istringstream words(readme[i].substr(tag.size()));
    std::string file;
    std::string name;
    words >> file >> name;
    CAPTURE(readme[i]);
    REQUIRE(i + 1 < readme.size());
    REQUIRE(readme[i + 1] == "```cpp");
    std::string snippet;
    std::size_t j = i + 2;
    for (; j < readme.size() && readme[j] != "```"; ++j) snippet += readme[j] + "\n";
    REQUIRE(j < readme.size());
    const std::string expected = region(file, name);
    CHECK_MESSAGE(snippet == expected, "README.md line " << i + 1 << " should show:\n" << expected);
    shown.insert({file, name});
  }
  CHECK(shown.size() >= 10);  // one or more per step of the seed's tour

  // Every marked region of every example is in the README.
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(PHYX_SOURCE_DIR) + "/examples")) {
    if (entry.path().extension() != ".cpp") continue;
    const std::string file = "examples/" + entry.path().filename().string();
    for (const auto& line : read_lines(entry.path().string())) {
      const std::string t = trim(line);
      if (t.rfind("// tour:begin ", 0) != 0) continue;
      std::istringstream words(t.substr(14));
      std::string name;
      words >> name;
      CHECK_MESSAGE(shown.count({file, name}) == 1,
                    file << " marks '" << name << "' for the README, which does not show it");
    }
  }
}
