#include "report/text_format.hpp"

#include <catch2/catch.hpp>

using namespace fleetrun::report;

using fleetrun::report::with_commas;

TEST_CASE("numbers for people get thousands separators", "[text_format]")
{
  CHECK(with_commas(0) == "0");
  CHECK(with_commas(999) == "999");
  CHECK(with_commas(1000) == "1,000");
  CHECK(with_commas(197463) == "197,463");
  CHECK(with_commas(-1234567) == "-1,234,567");
}
