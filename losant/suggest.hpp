#pragma once
// "Did you mean ...?": the closest of some known words to a misspelt one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetrun::losant {

// The candidate closest to `word` by case-insensitive edit distance, when
// close enough to be a likely typo (at most max(2, length/3) edits).
std::optional<std::string> closest_match(std::string_view word, const std::vector<std::string>& candidates);

} // namespace fleetrun::losant
