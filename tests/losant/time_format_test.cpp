#include "losant/time_format.hpp"

#include <catch2/catch.hpp>

using fleetrun::losant::format_iso8601_ms;
using fleetrun::losant::parse_iso8601_ms;

TEST_CASE("ISO 8601 times parse to epoch milliseconds", "[time_format]")
{
  CHECK(parse_iso8601_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso8601_ms("2026-11-27T03:34:13.123Z") == 1795750453123);
  CHECK(parse_iso8601_ms("2026-11-27T04:34:13.123+01:00") == 1795750453123);
  CHECK(parse_iso8601_ms("2026-11-27") == 1795737600000);
  CHECK(parse_iso8601_ms("2026-11-27T03:34") == 1795750440000);
  CHECK(parse_iso8601_ms("2026-11-27T03:34:13.1Z") == 1795750453100);
}

TEST_CASE("malformed times are refused", "[time_format]")
{
  CHECK_FALSE(parse_iso8601_ms("").has_value());
  CHECK_FALSE(parse_iso8601_ms("yesterday").has_value());
  CHECK_FALSE(parse_iso8601_ms("2026-02-30").has_value());
  CHECK_FALSE(parse_iso8601_ms("2026-11-27T25:00Z").has_value());
  CHECK_FALSE(parse_iso8601_ms("2026-11-27T03:34:13Zjunk").has_value());
}

TEST_CASE("formatting round-trips", "[time_format]")
{
  CHECK(format_iso8601_ms(1795750453123) == "2026-11-27T03:34:13.123Z");
  CHECK(format_iso8601_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(parse_iso8601_ms(format_iso8601_ms(1234567890123)) == 1234567890123);
}
