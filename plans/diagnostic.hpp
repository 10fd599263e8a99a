#pragma once
// A problem found in a plan, and how it is shown: like a compiler,
//   plan.yaml:12:7: error: steps[1].action: unknown action "delet" (did you mean "delete"?)
//      12 |     action: delet
//         |             ^

#include "plans/plan.hpp"

#include <string>
#include <vector>

namespace fleetrun::plans {

struct Diagnostic {
  std::string file;
  Location location;
  std::string message;
};

// Renders one diagnostic with its source line and a caret under the column.
std::string render(const Diagnostic& diagnostic, const std::vector<std::string>& source_lines);

// The closest of `candidates` to `word` when close enough to be a likely typo.
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

} // namespace fleetrun::plans
