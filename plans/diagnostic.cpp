#include "plans/diagnostic.hpp"

#include "losant/suggest.hpp"

#include <algorithm>
#include <cctype>

namespace fleetrun::plans {

std::string render(const Diagnostic& diagnostic, const std::vector<std::string>& source_lines)
{
  // A problem without a position is one of the whole file: file:1:1.
  const Location at = diagnostic.location.line > 0 ? diagnostic.location : Location{1, 1};
  std::string out = diagnostic.file + ":" + std::to_string(at.line) + ":" + std::to_string(std::max(1, at.column));
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
