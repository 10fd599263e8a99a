// The query resolver alone: which pages it asks for, how it puts answers
// that come in any order back together, and the argument that no device is
// missed while the fleet changes, checked against a fake fleet that changes
// between answers.
#include "jobs/query_resolution.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <iterator>
#include <random>
#include <set>

using nlohmann::json;
using namespace fleetrun;

namespace {

std::string id_of(long n)
{
  char id[25];
  std::snprintf(id, sizeof id, "5f%022lx", n);
  return id;
}

// Whether `id` satisfies the id conditions of a query (others match all).
bool matches(const json& query, const std::string& id)
{
  if (!query.is_object()) return true;
  for (const auto& [key, value] : query.items()) {
    if (key == "$and") {
      for (const auto& part : value) {
        if (!matches(part, id)) return false;
      }
    } else if (key == "$or") {
      bool any = false;
      for (const auto& part : value) any = any || matches(part, id);
      if (!any) return false;
    } else if (key == "id") {
      if (value.contains("$gt") && !(id > value["$gt"].get<std::string>())) return false;
      if (value.contains("$gte") && !(id >= value["$gte"].get<std::string>())) return false;
      if (value.contains("$lt") && !(id < value["$lt"].get<std::string>())) return false;
      if (value.contains("$lte") && !(id <= value["$lte"].get<std::string>())) return false;
    }
  }
  return true;
}

// The lowest and highest id a query can match, from its id conditions at the
// top or inside $and ("" for no upper bound); matches() still decides.
std::pair<std::string, std::string> id_bounds(const json& query)
{
  std::string low;
  std::string high;
  const std::function<void(const json&)> narrow = [&](const json& condition) {
    if (!condition.is_object()) return;
    if (condition.contains("$and")) {
      for (const auto& part : condition["$and"]) narrow(part);
    }
    if (!condition.contains("id") || !condition["id"].is_object()) return;
    for (const auto& [op, value] : condition["id"].items()) {
      if (!value.is_string()) continue;
      const auto bound = value.get<std::string>();
      if ((op == "$gt" || op == "$gte") && bound > low) low = bound;
      if ((op == "$lt" || op == "$lte") && (high.empty() || bound < high)) high = bound;
    }
  };
  narrow(query);
  return {low, high};
}

// A fleet that answers device-list requests as the API does (sorted by id,
// either way, page by offset within what the query matches), and counts the
// devices an offset skips: what a MongoDB-like server pays for depth.
struct FakeFleet {
  std::set<std::string> ids;
  int requests = 0;
  long skipped = 0;

  explicit FakeFleet(long devices, long spacing = 10)
  {
    for (long n = 0; n < devices; ++n) ids.insert(id_of(n * spacing));
  }

  api::ApiResult answer(const api::DeviceListParams& params)
  {
    ++requests;
    const json query = params.query_json ? json::parse(*params.query_json) : json::object();
    // Only the ids the query's own bounds allow are tested (a part asks for a
    // page-sized range; walking the whole fleet for each made this test take
    // minutes under the sanitizers).
    const auto [low, high] = id_bounds(query);
    const auto begin = ids.lower_bound(low);
    const auto end = high.empty() ? ids.end() : ids.upper_bound(high);
    const auto first = static_cast<std::size_t>(params.page) * static_cast<std::size_t>(params.per_page);
    skipped += static_cast<long>(first);
    const bool ascending = params.sort_direction != "desc";
    const bool ranges_only = query.dump().find("$or") == std::string::npos;
    std::vector<std::string> matching; // in the answer's order, until the page is full
    std::size_t total = 0;
    const auto visit = [&](auto from, auto to) {
      for (auto it = from; it != to; ++it) {
        if (ranges_only && matching.size() >= first + static_cast<std::size_t>(params.per_page)) {
          total += static_cast<std::size_t>(std::distance(it, to)); // all within the bounds match
          return;
        }
        if (!matches(query, *it)) continue;
        ++total;
        matching.push_back(*it);
      }
    };
    if (ascending) {
      visit(begin, end);
    } else {
      visit(std::make_reverse_iterator(end), std::make_reverse_iterator(begin));
    }
    json items = json::array();
    for (std::size_t i = first; i < matching.size() && items.size() < static_cast<std::size_t>(params.per_page); ++i) {
      items.push_back({{"id", matching[i]}});
    }
    return api::ApiResponse{200, json{{"items", items}, {"totalCount", total}}.dump(), {}, "GET /devices"};
  }
};

struct Outcome {
  std::vector<std::string> ids; // in the order the pages were handed back
  std::vector<std::string> sorted() const
  {
    auto out = ids;
    std::sort(out.begin(), out.end());
    return out;
  }
  std::optional<api::ApiError> error;
  int requests = 0;
  jobs::Resolved resolved;
};

// Drives a resolver: all its requests are answered, in a shuffled order
// (`seed`), with `between` run before each answer (to change the fleet).
Outcome drive(jobs::QueryResolver& resolver, FakeFleet& fleet, unsigned seed = 0,
              const std::function<void(int answer)>& between = {}, int parallelism = 8)
{
  Outcome outcome;
  std::mt19937 rng(seed);
  std::vector<jobs::PageRequest> pending;
  int answered = 0;
  while (!resolver.finished()) {
    for (auto& request : resolver.take_requests(parallelism)) pending.push_back(std::move(request));
    if (pending.empty()) break;
    if (seed != 0) std::shuffle(pending.begin(), pending.end(), rng);
    const jobs::PageRequest request = pending.back();
    pending.pop_back();
    if (between) between(answered);
    ++answered;
    ++outcome.requests;
    auto pages = resolver.on_answer(request.id, fleet.answer(request.params));
    if (!pages) {
      outcome.error = pages.error();
      return outcome;
    }
    for (const auto& page : *pages) {
      for (const auto& [id, document] : page) outcome.ids.push_back(id);
    }
  }
  outcome.resolved = resolver.resolved();
  return outcome;
}

plans::QuerySpec advanced()
{
  plans::QuerySpec spec;
  spec.name = "q";
  spec.query_json = R"({"deviceClass":"gateway"})";
  spec.has_advanced_query = true;
  return spec;
}

} // namespace

TEST_CASE("a stable fleet is read once, in any answer order, with about as many requests as it has pages",
          "[query_resolution]")
{
  for (const long devices : {0L, 1L, 999L, 1000L, 1001L, 1999L, 2500L, 25'000L, 150'500L}) {
    for (const int parallelism : {1, 8, 32}) {
      const unsigned seed = static_cast<unsigned>(parallelism);
      INFO(devices << " devices, parallelism " << parallelism);
      FakeFleet fleet(devices);
      const plans::QuerySpec spec = advanced();
      jobs::QueryResolver resolver(spec);
      const Outcome outcome = drive(resolver, fleet, seed, {}, parallelism);
      REQUIRE_FALSE(outcome.error);
      CHECK(outcome.sorted() == std::vector<std::string>(fleet.ids.begin(), fleet.ids.end())); // all, once
      const long pages = std::max(1L, (devices + 999) / 1000);
      CHECK(outcome.requests >= pages);
      // Parts of whole pages: at most a request more per part than the pages.
      CHECK(outcome.requests <= pages + resolver.stats().parts);
      CHECK(outcome.requests <= pages * 1.05 + 2);
      CHECK(outcome.resolved.total == devices);
      CHECK(outcome.resolved.complete);
      CHECK(fleet.skipped == 0); // never an offset page: each page costs the same whatever its depth
    }
  }
}

TEST_CASE("page 0 first, then the tail, then the parts between them at once", "[query_resolution]")
{
  FakeFleet fleet(25'500);
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  auto first = resolver.take_requests(16);
  REQUIRE(first.size() == 1);
  CHECK(first[0].params.page == 0);
  CHECK(first[0].params.sort_field == "id");
  CHECK(first[0].params.sort_direction == "asc");
  REQUIRE(resolver.on_answer(first[0].id, fleet.answer(first[0].params)).has_value());
  const auto tail = resolver.take_requests(16);
  REQUIRE(tail.size() == 1);
  CHECK(tail[0].params.sort_direction == "desc");
  REQUIRE(resolver.on_answer(tail[0].id, fleet.answer(tail[0].params)).has_value());
  const auto parts = resolver.take_requests(16);
  CHECK(parts.size() == 16);
  for (const auto& request : parts) {
    CHECK(request.params.page == 0);
    const json query = json::parse(*request.params.query_json);
    CHECK(query["$and"].size() == 3); // the query, and the part's two ends
  }
}

TEST_CASE("a fleet whose ids bunch up is still read in parallel, with few empty ranges", "[query_resolution]")
{
  // Most devices made in two bursts (ids close together), a few spread wide.
  FakeFleet fleet(0);
  for (long n = 0; n < 200; ++n) fleet.ids.insert(id_of(n * 1'000'000'000L));
  for (long n = 0; n < 20'000; ++n) fleet.ids.insert(id_of(50'000'000'000L + n));
  for (long n = 0; n < 20'000; ++n) fleet.ids.insert(id_of(150'000'000'000L + n * 3));
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  // Answered a round at a time: every request out is answered before the next round.
  int rounds = 0;
  std::size_t read = 0;
  while (!resolver.finished()) {
    const auto requests = resolver.take_requests(16);
    REQUIRE_FALSE(requests.empty());
    ++rounds;

    for (const auto& request : requests) {
      auto pages = resolver.on_answer(request.id, fleet.answer(request.params));
      if (!pages) FAIL(pages.error().message);
      for (const auto& page : *pages) read += page.size();
    }
  }
  CHECK(read == fleet.ids.size());
  const long pages = (static_cast<long>(fleet.ids.size()) + 999) / 1000;
  CHECK(rounds < pages / 3); // in parallel, not page after page
  // The first split assumes ids spread evenly: parts over the sparse middle
  // cost a request each, and parts beyond a burst's end find nothing.
  CHECK(fleet.requests <= pages * 1.6);
  CHECK(resolver.stats().empty_parts <= 16 + fleet.requests / 20);
}

TEST_CASE("no device that exists throughout is missed or repeated while the fleet changes", "[query_resolution]")
{
  for (unsigned seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    FakeFleet fleet(7'300);
    const std::set<std::string> before = fleet.ids;
    std::set<std::string> touched; // deleted or created meanwhile: either way is right for them
    std::mt19937 rng(seed);
    const plans::QuerySpec spec = advanced();
    jobs::QueryResolver resolver(spec);
    const Outcome outcome = drive(
        resolver, fleet, seed,
        [&](int) {
          for (int change = 0; change < 30; ++change) {
            if (rng() % 2 == 0 && !fleet.ids.empty()) {
              auto it = fleet.ids.begin();
              std::advance(it, static_cast<long>(rng() % fleet.ids.size()));
              touched.insert(*it);
              fleet.ids.erase(it);
            } else {
              const std::string id = id_of(static_cast<long>(rng() % 80'000) * 10 + 5); // anywhere, not only at the end
              if (fleet.ids.insert(id).second) touched.insert(id);
            }
          }
        },
        1 + static_cast<int>(seed % 12));
    REQUIRE_FALSE(outcome.error);
    const std::set<std::string> read(outcome.ids.begin(), outcome.ids.end());
    CHECK(read.size() == outcome.ids.size()); // no device twice
    for (const auto& id : before) {
      if (!touched.contains(id)) CHECK(read.contains(id)); // existed throughout: read
    }
    for (const auto& id : read) CHECK((before.contains(id) || touched.contains(id))); // nothing made up
  }
}

TEST_CASE("a query over its expect.max stops after page 0, incomplete, with the reported count", "[query_resolution]")
{
  FakeFleet fleet(5000);
  plans::QuerySpec spec = advanced();
  spec.expect_max = 1500;
  jobs::QueryResolver resolver(spec);
  const Outcome outcome = drive(resolver, fleet);
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.requests == 1);
  CHECK_FALSE(outcome.resolved.complete);
  CHECK(outcome.resolved.total == 5000);
}

TEST_CASE("simple filters are read page after page by offset", "[query_resolution]")
{
  FakeFleet fleet(2500);
  plans::QuerySpec spec;
  spec.name = "q";
  spec.filter = "north-*";
  jobs::QueryResolver resolver(spec);
  int rounds = 0;
  while (!resolver.finished()) {
    const auto requests = resolver.take_requests(8);
    REQUIRE(requests.size() == 1); // one at a time
    CHECK(requests[0].params.filter == "north-*");
    CHECK(requests[0].params.page == rounds);
    REQUIRE(resolver.on_answer(requests[0].id, fleet.answer(requests[0].params)).has_value());
    ++rounds;
  }
  CHECK(rounds == 3);
  CHECK(resolver.resolved().total == 2500);
}

namespace {

// A server that ignores paging and query: the same first page every time.
struct Repeating {
  api::ApiResult operator()(const api::DeviceListParams&) const
  {
    json items = json::array();
    for (long n = 0; n < 1000; ++n) items.push_back({{"id", id_of(n)}});
    return api::ApiResponse{200, json{{"items", items}, {"totalCount", 5000}}.dump(), {}, "GET /devices"};
  }
};

// A server that never runs out: every page is full, of new ids rising from
// the start of the range asked for (the tail, ids near the top).
api::ApiResult endless_page(const api::DeviceListParams& params, std::optional<long> total)
{
  json items = json::array();
  if (params.sort_direction == "desc") {
    for (long i = 0; i < 1000; ++i) items.push_back({{"id", id_of(1'000'000'000'000'000L - i)}});
  } else {
    long from = 0;
    const json query = params.query_json ? json::parse(*params.query_json) : json::object();
    if (query.contains("$and")) {
      const json& low = query["$and"][1]["id"];
      from = std::stol(low.begin().value().get<std::string>().substr(2), nullptr, 16) + 1;
    }
    for (long i = 0; i < 1000; ++i) items.push_back({{"id", id_of(from + i)}});
  }
  json body = {{"items", items}};
  if (total) body["totalCount"] = *total;
  return api::ApiResponse{200, body.dump(), {}, "GET"};
}

Outcome drive_with(jobs::QueryResolver& resolver,
                   const std::function<api::ApiResult(const api::DeviceListParams&)>& server, int limit = 100)
{
  Outcome outcome;
  while (!resolver.finished()) {
    const auto requests = resolver.take_requests(8);
    if (requests.empty()) break;
    for (const auto& request : requests) {
      ++outcome.requests;
      if (outcome.requests > limit) return outcome; // not stopped: the test fails below
      auto pages = resolver.on_answer(request.id, server(request.params));
      if (!pages) {
        outcome.error = pages.error();
        return outcome;
      }
      for (const auto& page : *pages) {
        for (const auto& [id, document] : page) outcome.ids.push_back(id);
      }
    }
  }
  return outcome;
}

} // namespace

TEST_CASE("a server that repeats its page is stopped, by cursor or by page number", "[query_resolution]")
{
  const plans::QuerySpec by_cursor = advanced();
  jobs::QueryResolver parallel(by_cursor);
  const Outcome first = drive_with(parallel, Repeating{});
  REQUIRE(first.error);
  CHECK_THAT(first.error->message, Catch::Contains("query q:"));
  CHECK_THAT(first.error->message, Catch::Contains("not sorted by id descending")); // the tail came back ascending
  CHECK(first.error->request == "GET /devices");
  CHECK(first.ids.size() == 1000); // the first page, nothing twice

  // A server that pages by offset only, ignoring the query: the same devices again.
  FakeFleet fleet(5000);
  jobs::QueryResolver ignoring(by_cursor);
  const Outcome second = drive_with(ignoring, [&](const api::DeviceListParams& params) {
    api::DeviceListParams plain = params;
    plain.query_json.reset();
    return fleet.answer(plain);
  });
  REQUIRE(second.error);
  CHECK_THAT(second.error->message, Catch::Contains("outside the ids asked for"));
  CHECK_THAT(second.error->message, Catch::Contains("ignored the query or the pages repeat"));

  plans::QuerySpec by_page;
  by_page.name = "q";
  by_page.filter = "x*";
  jobs::QueryResolver sequential(by_page);
  const Outcome third = drive_with(sequential, Repeating{});
  REQUIRE(third.error);
  CHECK_THAT(third.error->message, Catch::Contains("out of id order or repeated"));
  CHECK(third.requests == 2);
}

TEST_CASE("a server that keeps sending new devices beyond its total is stopped within a few pages",
          "[query_resolution]")
{
  // Every answer a full page of new, rising ids within what was asked for.
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  const Outcome outcome = drive_with(
      resolver, [&](const api::DeviceListParams& params) { return endless_page(params, 2000); }, 1000);
  REQUIRE(outcome.error);
  CHECK_THAT(outcome.error->message, Catch::Contains("reported 2000 in all"));
  CHECK_THAT(outcome.error->message, Catch::Contains("pages so far"));
  CHECK(outcome.requests <= 5);
}

TEST_CASE("without a totalCount a server that never ends is stopped at the most one query may read",
          "[query_resolution]")
{
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec, 1000, 50'000);
  const Outcome outcome = drive_with(
      resolver, [&](const api::DeviceListParams& params) { return endless_page(params, std::nullopt); }, 1000);
  REQUIRE(outcome.error);
  CHECK_THAT(outcome.error->message, Catch::Contains("more than 50000 devices"));
  CHECK_THAT(outcome.error->message, Catch::Contains("the most fleetrun reads for one query"));
  CHECK(outcome.requests <= 52);
}

TEST_CASE("malformed pages end the resolution with the request named", "[query_resolution]")
{
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"<html>", "must be a JSON object"},
      {R"({"items":[{"id":"5f0000000000000000000002"},{"id":"5f0000000000000000000001"}],"totalCount":2})",
       "not sorted by id"},
      {R"({"items":[{"id":"5f0000000000000000000001"},{"id":"5f0000000000000000000002"}],"totalCount":2})",
       "2 devices in a page of 1"},
  };
  for (const auto& [body, expected] : cases) {
    const plans::QuerySpec spec = advanced();
    jobs::QueryResolver resolver(spec, expected.starts_with("2 devices") ? 1 : 1000);
    const auto request = resolver.take_requests().at(0);
    const auto pages = resolver.on_answer(request.id, api::ApiResponse{200, body, {}, "GET /x"});
    REQUIRE_FALSE(pages.has_value());
    CHECK_THAT(pages.error().message, Catch::Contains(expected));
    CHECK(pages.error().request == "GET /x");
  }
}

TEST_CASE("an error answer ends the resolution with that error", "[query_resolution]")
{
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  const auto request = resolver.take_requests().at(0);
  api::ApiError refused;
  refused.kind = api::ErrorKind::auth;
  refused.status = 401;
  const auto pages = resolver.on_answer(request.id, std::unexpected(refused));
  REQUIRE_FALSE(pages.has_value());
  CHECK(pages.error().status == 401);
}

TEST_CASE("without a totalCount the fleet is read all the same", "[query_resolution]")
{
  FakeFleet fleet(12'500);
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  const Outcome outcome = drive_with(resolver, [&](const api::DeviceListParams& params) {
    auto answer = fleet.answer(params);
    json body = json::parse(answer->body);
    body.erase("totalCount");
    answer->body = body.dump();
    return answer;
  });
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.sorted() == std::vector<std::string>(fleet.ids.begin(), fleet.ids.end()));
  CHECK(outcome.requests <= 13 + resolver.stats().parts);
}
