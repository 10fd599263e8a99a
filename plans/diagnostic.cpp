#include "plans/diagnostic.hpp"

#include "losant/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace fleetrun::plans {

std::string render(const Diagnostic& diagnostic, const std::vector<std::string>& source_lines)
{
  std::string out = diagnostic.file;
  if (diagnostic.location.line > 0) {
    out += ":" + std::to_string(diagnostic.location.line) + ":" + std::to_string(diagnostic.location.column);
  }
  out += ": error: " + diagnostic.message + "\n";
  const int line = diagnostic.location.line;
  if (line > 0 && static_cast<std::size_t>(line) <= source_lines.size()) {
    const std::string number = std::to_string(line);
    out += " " + number + " | " + source_lines[static_cast<std::size_t>(line - 1)] + "\n";
    out += " " + std::string(number.size(), ' ') + " | " +
           std::string(static_cast<std::size_t>(std::max(0, diagnostic.location.column - 1)), ' ') + "^\n";
  }
  return out;
}

std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates)
{
  return losant::closest_match(word, candidates);
}

} // namespace fleetrun::plans
