#include "plans/plan_text.hpp"

namespace fleetrun::plans::detail {

// Where byte `offset` of `text` stands, 1-based; columns count characters.
Location position_of(const std::string& text, std::size_t offset)
{
  Location at{1, 1};
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\n') {
      ++at.line;
      at.column = 1;
    } else if ((byte & 0xC0U) != 0x80U) {
      ++at.column;
    }
  }
  return at;
}

std::string normalized_line_ends(const std::string& text)
{
  if (text.find('\r') == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// A source line as a diagnostic may show it: control characters as `?`.
std::string printable(std::string line)
{
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';
  }
  return line;
}

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not valid UTF-8.
std::size_t utf8_length(const std::string& text, std::size_t i)
{
  const auto byte = [&](std::size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0U; };
  const unsigned lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned minimum = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    minimum = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    minimum = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    minimum = 0x10000;
  } else {
    return 0;
  }
  unsigned code = lead & (0xFFU >> (length + 1));
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0U) != 0x80U) return 0;
    code = (code << 6U) | (byte(i + k) & 0x3FU);
  }
  if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

// Problems of the file as a whole, found before any YAML is read.
std::optional<Diagnostic> check_text(const std::string& text, const std::string& file)
{
  if (text.size() > k_max_plan_bytes) {
    return Diagnostic{file,
                      {1, 1},
                      "the plan is larger than " + std::to_string(k_max_plan_bytes / (1024 * 1024)) +
                          " MiB, the limit for a plan file; is this the right file?"};
  }
  if (text.find_first_not_of(" \t\n") == std::string::npos) {
    return Diagnostic{file, {1, 1}, "the plan is empty; a plan needs version, queries and steps"};
  }
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\0') {
      return Diagnostic{file, position_of(text, i), "the plan contains a NUL byte; is this a text file?"};
    }
    const std::size_t length = utf8_length(text, i);
    if (length == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[i])));
      return Diagnostic{file, position_of(text, i),
                        std::string("the plan is not valid UTF-8 here (byte ") + hex + "); save it as UTF-8"};
    }
    i += length;
  }
  return std::nullopt;
}

} // namespace fleetrun::plans::detail
