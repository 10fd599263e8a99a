#include "api/answer_text.hpp"

#include "losant/string_scan.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace fleetrun::api {

namespace {

constexpr double k_longest_retry_after_s = 7 * 24 * 3600.0;

std::size_t utf8_sequence(std::string_view text, std::size_t i)
{
  const auto byte = [&](std::size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0U; };
  const unsigned lead = byte(i);
  std::size_t length = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    length = 2;
  else if (lead >= 0xE0 && lead <= 0xEF)
    length = 3;
  else if (lead >= 0xF0 && lead <= 0xF4)
    length = 4;
  else
    return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0U) != 0x80U) return 0;
  }
  if (lead == 0xE0 && byte(i + 1) < 0xA0) return 0;  // overlong
  if (lead == 0xED && byte(i + 1) >= 0xA0) return 0; // surrogates
  if (lead == 0xF0 && byte(i + 1) < 0x90) return 0;  // overlong
  if (lead == 0xF4 && byte(i + 1) >= 0x90) return 0; // beyond U+10FFFF
  return length;
}

} // namespace

bool json_depth_within(std::string_view text, int max_depth)
{
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (in_string) {
      i += losant::plain_string_run(text.data() + i, text.size() - i);
      if (i >= text.size()) break;
    }
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

std::string excerpt(std::string_view text, std::size_t max_bytes)
{
  if (text.empty()) return "(an empty answer)";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 3);
  std::size_t i = 0;
  while (i < text.size() && out.size() < max_bytes) {
    const std::size_t length = utf8_sequence(text, i);
    if (length == 0) {
      out.push_back('?');
      ++i;
      continue;
    }
    if (length == 1) {
      const auto c = static_cast<unsigned char>(text[i]);
      out.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  if (i < text.size()) out += "\u2026";
  return out;
}

std::optional<double> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now)
{
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  double seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error == std::errc() && end == value.data() + value.size()) {
    if (!std::isfinite(seconds) || seconds < 0) return std::nullopt;
    return std::min(seconds, k_longest_retry_after_s);
  }
  if (error == std::errc::result_out_of_range) return k_longest_retry_after_s;
  // An HTTP date, strictly RFC 9110's IMF-fixdate: "Wed, 21 Oct 2026 07:28:00 GMT".
  static constexpr std::array<const char*, 12> k_months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char weekday[4] = {};
  char month[4] = {};
  int day = 0;
  int year = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int consumed = 0;
  const std::string text(value);
  if (std::sscanf(text.c_str(), "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", weekday, &day, month, &year, &hour,
                  &minute, &second, &consumed) != 7 ||
      static_cast<std::size_t>(consumed) != text.size()) {
    return std::nullopt;
  }
  const auto found =
      std::find_if(k_months.begin(), k_months.end(), [&](const char* name) { return std::string_view(name) == month; });
  if (found == k_months.end() || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  std::tm when{};
  when.tm_year = year - 1900;
  when.tm_mon = static_cast<int>(found - k_months.begin());
  when.tm_mday = day;
  when.tm_hour = hour;
  when.tm_min = minute;
  when.tm_sec = second;
  const double at = static_cast<double>(timegm(&when));
  const double from = std::chrono::duration<double>(now.time_since_epoch()).count();
  return std::clamp(at - from, 0.0, k_longest_retry_after_s);
}

} // namespace fleetrun::api
