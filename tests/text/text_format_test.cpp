#include "text/text_format.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fleetrun::text;
using nlohmann::json;

TEST_CASE("numbers for people get thousands separators", "[text_format]")
{
  CHECK(with_commas(0) == "0");
  CHECK(with_commas(999) == "999");
  CHECK(with_commas(1000) == "1,000");
  CHECK(with_commas(197463) == "197,463");
  CHECK(with_commas(-1234567) == "-1,234,567");
}

TEST_CASE("names in JSON read as words", "[text_format]")
{
  CHECK(camel_to_words("updated") == "updated");
  CHECK(camel_to_words("dataRemoved") == "data removed");
  CHECK(camel_to_words("serverErrors5xx") == "server errors 5xx");
}

TEST_CASE("a step's counts read as words, failures last and zeros left out", "[text_format]")
{
  CHECK(counts_in_words(json{{"failed", 3}, {"skipped", 0}, {"updated", 1838}}) == "1,838 updated, 3 failed");
  CHECK(counts_in_words(json{{"failed", 0}, {"removed", 497}}) == "497 removed");
  CHECK(counts_in_words(json{{"sent", 377}}) == "377 sent");
  CHECK(counts_in_words(json{{"failed", 0}}) == "0 failed");
  CHECK(counts_in_words(json::object()) == "no devices");
  CHECK(counts_in_words(json{{"reconciled", true}, {"sent", 2}}) == "2 sent"); // not a count
}

TEST_CASE("a run's request counters read as words, requests first and by purpose", "[text_format]")
{
  const json counters = {{"requests", 1201},
                         {"retries", 2},
                         {"throttled429", 5},
                         {"serverErrors5xx", 0},
                         {"timeouts", 0},
                         {"jobsFollowed", 1},
                         {"requestsBy", {{"resolution", 201}, {"batches", 1000}, {"jobPolls", 0}}}};
  CHECK(counters_in_words(counters) ==
        "1,201 requests (1,000 for batches, 201 for resolution), 1 jobs followed, 2 retries, 5 throttled (429)");
  CHECK(counters_in_words(json{{"requests", 0}}) == "no requests");
}
