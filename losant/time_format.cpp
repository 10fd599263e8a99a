#include "losant/time_format.hpp"

#include <chrono>
#include <cstdio>

namespace fleetrun::losant {

namespace {

bool read_digits(std::string_view text, std::size_t& pos, std::size_t count, int& value)
{
  if (pos + count > text.size()) return false;
  value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += count;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c)
{
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

} // namespace

std::optional<std::int64_t> parse_iso8601_ms(std::string_view text) noexcept
{
  using namespace std::chrono;
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, '-') || !read_digits(text, pos, 2, month) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  int offset_minutes = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
    ++pos;
    if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ':') || !read_digits(text, pos, 2, minute)) {
      return std::nullopt;
    }
    if (expect(text, pos, ':')) {
      if (!read_digits(text, pos, 2, second)) return std::nullopt;
      if (expect(text, pos, '.')) {
        int digits = 0;
        int fraction = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) fraction = fraction * 10 + (text[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (int d = digits; d < 3; ++d) fraction *= 10;
        millis = fraction;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < text.size()) {
      if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
      } else if (text[pos] == '+' || text[pos] == '-') {
        const int sign = text[pos] == '-' ? -1 : 1;
        ++pos;
        int oh = 0, om = 0;
        if (!read_digits(text, pos, 2, oh)) return std::nullopt;
        expect(text, pos, ':');
        if (!read_digits(text, pos, 2, om)) return std::nullopt;
        offset_minutes = sign * (oh * 60 + om);
      } else {
        return std::nullopt;
      }
    }
  }
  if (pos != text.size()) return std::nullopt;
  const auto days = sys_days(date).time_since_epoch().count();
  const std::int64_t seconds = static_cast<std::int64_t>(days) * 86400 + hour * 3600 + minute * 60 + second -
                               static_cast<std::int64_t>(offset_minutes) * 60;
  return seconds * 1000 + millis;
}

std::string format_iso8601_ms(std::int64_t epoch_ms)
{
  using namespace std::chrono;
  const sys_time<milliseconds> tp{milliseconds{epoch_ms}};
  const auto day_point = floor<days>(tp);
  const year_month_day ymd{day_point};
  const hh_mm_ss time{tp - day_point};
  // Written digit by digit: a sandbox renders a million of these.
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()), static_cast<int>(time.subseconds().count()));
    return buffer;
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  const auto put = [&](std::size_t at, int value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10)
      out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  put(8, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  put(11, static_cast<int>(time.hours().count()), 2);
  put(14, static_cast<int>(time.minutes().count()), 2);
  put(17, static_cast<int>(time.seconds().count()), 2);
  put(20, static_cast<int>(time.subseconds().count()), 3);
  return out;
}

std::int64_t now_epoch_ms() noexcept
{
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace fleetrun::losant
