#pragma once
// A plan file's text before it is YAML: line ends, positions, and the checks
// that refuse what no YAML reader should see (NUL bytes, text that is not UTF-8).

#include "plans/diagnostic.hpp"
#include "plans/plan_parser.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace fleetrun::plans::detail {

// Where byte `offset` of `text` stands, 1-based; columns count characters.
Location position_of(const std::string& text, std::size_t offset);
// CR LF and lone CR read as LF.
std::string normalized_line_ends(const std::string& text);
// A line as a diagnostic can show it: control characters as spaces.
std::string printable(std::string line);
// The length of the UTF-8 sequence at `i`, or 0 when it is not valid UTF-8.
std::size_t utf8_length(const std::string& text, std::size_t i);
// The first problem of the text itself (a NUL byte, invalid UTF-8), if any.
std::optional<Diagnostic> check_text(const std::string& text, const std::string& file);

} // namespace fleetrun::plans::detail
