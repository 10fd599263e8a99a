#pragma once
// Words and numbers for people: what events, `status`, `report` and the
// summaries print, so that a person reads "1,838 updated, 3 failed", never
// `{"failed":3,"updated":1838}`.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace fleetrun::text {

// 1234567 -> "1,234,567".
std::string with_commas(std::int64_t n);

// "throttled429" -> "throttled 429", "serverErrors5xx" -> "server errors 5xx".
std::string camel_to_words(const std::string& name);

// A step's outcome counts, {"failed":3,"skipped":0,"updated":1838} ->
// "1,838 updated, 3 failed": what succeeded first, failures last; zeros are
// left out except a zero "failed" when nothing else is there ("0 devices").
std::string counts_in_words(const nlohmann::json& counts);

// How a request counter reads after its number: "throttled429" ->
// "throttled (429)", "jobsFollowed" -> "jobs followed".
std::string counter_words(const std::string& name);

// A run's request counters ({"requests":1201,"retries":2,...,
// "requestsBy":{"batches":1000,...}}) -> "1,201 requests (1,000 for batches,
// ...), 2 retries, ...": zeros left out.
std::string counters_in_words(const nlohmann::json& counters);

} // namespace fleetrun::text
