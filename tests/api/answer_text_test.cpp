// Reading hostile answers: a table of cases for each helper.
#include "api/answer_text.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace fleetrun::api;

TEST_CASE("JSON nesting is measured without parsing, strings skipped", "[answer_text]")
{
  CHECK(json_depth_within(R"({"a":[{"b":1}]})", 3));
  CHECK_FALSE(json_depth_within(R"({"a":[{"b":1}]})", 2));
  CHECK(json_depth_within(R"({"a":"[[[[[[[[[[[[\"[[[["})", 1)); // brackets inside strings do not count
  CHECK(json_depth_within("not json at all", 1));
  CHECK_FALSE(json_depth_within(std::string(100'000, '['), 64));
  CHECK(json_depth_within(std::string(64, '[') + std::string(64, ']'), 64));
}

TEST_CASE("an excerpt is short, printable, valid UTF-8", "[answer_text]")
{
  CHECK(excerpt("") == "(an empty answer)");
  CHECK(excerpt("<html>\r\n<b>Bad Gateway</b>") == "<html>  <b>Bad Gateway</b>");
  CHECK(excerpt(std::string(500, 'x'), 10) == std::string(10, 'x') + "\u2026");
  CHECK(excerpt("caf\xE9 ok") == "caf? ok");                   // not UTF-8: replaced
  CHECK(excerpt("caf\xC3\xA9") == "caf\xC3\xA9");              // UTF-8: kept
  CHECK(excerpt("\xC3\xA9\xC3\xA9", 3) == "\xC3\xA9\xC3\xA9"); // a character is never cut in two
  CHECK(excerpt(std::string("a\0b", 3)) == "a b");
}

TEST_CASE("Retry-After: seconds or an HTTP date, anything else, negative or not finite is ignored", "[answer_text]")
{
  const auto now = std::chrono::system_clock::from_time_t(1'790'000'000);
  CHECK(parse_retry_after("3", now) == 3.0);
  CHECK(parse_retry_after(" 1.5 ", now) == 1.5);
  CHECK(parse_retry_after("0", now) == 0.0);
  CHECK_FALSE(parse_retry_after("-1", now).has_value());
  CHECK_FALSE(parse_retry_after("inf", now).has_value());
  CHECK_FALSE(parse_retry_after("nan", now).has_value());
  CHECK_FALSE(parse_retry_after("soon", now).has_value());
  CHECK_FALSE(parse_retry_after("", now).has_value());
  CHECK(parse_retry_after("1e300", now) == 7 * 24 * 3600.0); // capped, never overflowing a duration
  CHECK(parse_retry_after("86400", now) == 86400.0);         // the caller decides it is too long
  // 1,790,000,000 is 2026-09-21T14:13:20Z; a date 60 s later.
  CHECK(parse_retry_after("Mon, 21 Sep 2026 14:14:20 GMT", now) == 60.0);
  CHECK(parse_retry_after("Mon, 21 Sep 2026 13:00:00 GMT", now) == 0.0); // in the past: now
  CHECK_FALSE(parse_retry_after("Mon, 21 Sep 2026 14:14:20", now).has_value());
  CHECK_FALSE(parse_retry_after("Mon, 21 Foo 2026 14:14:20 GMT", now).has_value());
}
