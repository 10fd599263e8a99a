#include "preview/plan_changes.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <vector>

namespace fleetrun::preview {

namespace {

constexpr std::size_t k_lines_shown = 8;

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

} // namespace

std::string describe_plan_change(const state::RunRecord& earlier, const plans::Plan& now)
{
  std::string out;
  if (earlier.plan_hash != now.text_hash) {
    // The common head and tail; what is between them differs.
    const auto before = lines_of(earlier.plan_text);
    const auto after = lines_of(now.text);
    std::size_t head = 0;
    while (head < before.size() && head < after.size() && before[head] == after[head]) ++head;
    std::size_t tail = 0;
    while (tail < before.size() - head && tail < after.size() - head &&
           before[before.size() - 1 - tail] == after[after.size() - 1 - tail])
      ++tail;
    std::size_t shown = 0;
    for (std::size_t i = head; i < before.size() - tail && shown < k_lines_shown; ++i, ++shown) {
      out += "  line " + std::to_string(i + 1) + " was: " + before[i] + "\n";
    }
    for (std::size_t i = head; i < after.size() - tail && shown < 2 * k_lines_shown; ++i, ++shown) {
      out += "  line " + std::to_string(i + 1) + " is:  " + after[i] + "\n";
    }
    if (before.size() - tail - head + after.size() - tail - head > shown) out += "  (and more lines)\n";
    if (before.size() == after.size() && head == before.size()) out += "  (the same lines, other bytes: line ends?)\n";
  }
  const auto hashes = nlohmann::json::parse(earlier.variables_json, nullptr, false);
  const auto current = nlohmann::json::parse(now.variable_hashes_json());
  if (hashes.is_object()) {
    for (const auto& [name, hash] : hashes.items()) {
      if (!current.contains(name)) {
        out += "  ${" + name + "} is no longer used\n";
      } else if (current[name] != hash) {
        out += "  ${" + name + "} has another value\n";
      }
    }
    for (const auto& [name, hash] : current.items()) {
      if (!hashes.contains(name)) out += "  ${" + name + "} is new\n";
    }
  }
  if (out.empty() && earlier.effective_hash != now.effective_hash) {
    out = "  the interpolated plan differs (it was recorded by an older fleetrun, without its ${VAR}s)\n";
  }
  return out;
}

} // namespace fleetrun::preview
