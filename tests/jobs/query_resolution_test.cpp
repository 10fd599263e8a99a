// The query resolver alone: which pages it asks for, how it puts answers
// that come in any order back together, and the argument that no device is
// missed while the fleet changes, checked against a fake fleet that changes
// between answers.
#include "jobs/query_resolution.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
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
      if (value.contains("$lt") && !(id < value["$lt"].get<std::string>())) return false;
    }
  }
  return true;
}

// A fleet that answers device-list requests as the API does (sorted by id,
// page by offset within what the query matches).
struct FakeFleet {
  std::set<std::string> ids;
  int requests = 0;

  explicit FakeFleet(long devices)
  {
    for (long n = 0; n < devices; ++n) ids.insert(id_of(n * 10));
  }

  api::ApiResult answer(const api::DeviceListParams& params)
  {
    ++requests;
    const json query = params.query_json ? json::parse(*params.query_json) : json::object();
    std::vector<std::string> matching;
    for (const auto& id : ids) {
      if (matches(query, id)) matching.push_back(id);
    }
    json items = json::array();
    const auto first = static_cast<std::size_t>(params.page) * static_cast<std::size_t>(params.per_page);
    for (std::size_t i = first; i < matching.size() && items.size() < static_cast<std::size_t>(params.per_page); ++i) {
      items.push_back({{"id", matching[i]}});
    }
    return api::ApiResponse{200, json{{"items", items}, {"totalCount", matching.size()}}.dump(), {}, "GET /devices"};
  }
};

struct Outcome {
  std::vector<std::string> ids; // in the order the pages were handed back
  std::optional<api::ApiError> error;
  int requests = 0;
  jobs::Resolved resolved;
};

// Drives a resolver: all its requests are answered, in a shuffled order
// (`seed`), with `between` run before each answer (to change the fleet).
Outcome drive(jobs::QueryResolver& resolver, FakeFleet& fleet, unsigned seed = 0,
              const std::function<void(int answer)>& between = {})
{
  Outcome outcome;
  std::mt19937 rng(seed);
  std::vector<jobs::PageRequest> pending;
  int answered = 0;
  while (!resolver.finished()) {
    for (auto& request : resolver.take_requests()) pending.push_back(std::move(request));
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

TEST_CASE("a stable fleet is read with as many requests as it has pages, answered in any order", "[query_resolution]")
{
  for (const long devices : {0L, 1L, 999L, 1000L, 1001L, 2500L, 25'000L}) {
    for (const unsigned seed : {0U, 7U}) {
      INFO(devices << " devices, seed " << seed);
      FakeFleet fleet(devices);
      const plans::QuerySpec spec = advanced();
      jobs::QueryResolver resolver(spec);
      const Outcome outcome = drive(resolver, fleet, seed);
      REQUIRE_FALSE(outcome.error);
      CHECK(outcome.ids == std::vector<std::string>(fleet.ids.begin(), fleet.ids.end())); // all, in order, once
      const long pages = std::max(1L, (devices + 999) / 1000);
      CHECK(outcome.requests == pages); // never an empty page to ask for: the totals say when to stop
      CHECK(outcome.resolved.total == devices);
      CHECK(outcome.resolved.complete);
    }
  }
}

TEST_CASE("page 0 comes first, the offset pages all at once, the gaps and the tail last", "[query_resolution]")
{
  FakeFleet fleet(5500);
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  auto first = resolver.take_requests();
  REQUIRE(first.size() == 1);
  CHECK(first[0].params.page == 0);
  CHECK(first[0].params.sort_field == "id");
  REQUIRE(resolver.on_answer(first[0].id, fleet.answer(first[0].params)).has_value());
  const auto offsets = resolver.take_requests();
  REQUIRE(offsets.size() == 4); // pages 1 to 4; page 5 (the tail) comes with the gap query
  for (const auto& request : offsets) REQUIRE(resolver.on_answer(request.id, fleet.answer(request.params)).has_value());
  const auto gaps = resolver.take_requests();
  REQUIRE(gaps.size() == 1);
  const json query = json::parse(*gaps[0].params.query_json);
  CHECK(query["$and"][1]["$or"].size() == 5); // four boundaries and the tail
}

TEST_CASE("many pages need one more request per 40 boundaries, within 2 % of the minimum", "[query_resolution]")
{
  FakeFleet fleet(150'500);
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  const Outcome outcome = drive(resolver, fleet);
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.ids.size() == 150'500);
  const int minimum = 151;
  CHECK(outcome.requests == minimum + 3); // 149 boundaries in four gap queries, the tail in the last
  CHECK(outcome.requests <= minimum * 1.03);
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
    const Outcome outcome = drive(resolver, fleet, seed, [&](int) {
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
    });
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
    const auto requests = resolver.take_requests();
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

Outcome drive_with(jobs::QueryResolver& resolver,
                   const std::function<api::ApiResult(const api::DeviceListParams&)>& server)
{
  Outcome outcome;
  while (!resolver.finished()) {
    const auto requests = resolver.take_requests();
    if (requests.empty()) break;
    for (const auto& request : requests) {
      ++outcome.requests;
      if (outcome.requests > 100) return outcome; // not stopped: the test fails below
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
  CHECK_THAT(first.error->message, Catch::Contains("ignored the query"));
  CHECK(first.error->request == "GET /devices");
  CHECK(first.ids.size() == 1000); // the first page, nothing twice

  plans::QuerySpec by_page;
  by_page.name = "q";
  by_page.filter = "x*";
  jobs::QueryResolver sequential(by_page);
  const Outcome second = drive_with(sequential, Repeating{});
  REQUIRE(second.error);
  CHECK_THAT(second.error->message, Catch::Contains("out of id order or repeated"));
  CHECK(second.requests == 2);
}

TEST_CASE("a server that keeps sending new devices beyond its total is stopped", "[query_resolution]")
{
  long next = 0;
  const plans::QuerySpec spec = advanced();
  jobs::QueryResolver resolver(spec);
  const Outcome outcome = drive_with(resolver, [&](const api::DeviceListParams&) {
    json items = json::array();
    for (int i = 0; i < 1000; ++i) items.push_back({{"id", id_of(next++)}});
    return api::ApiResult(api::ApiResponse{200, json{{"items", items}, {"totalCount", 2000}}.dump(), {}, "GET"});
  });
  REQUIRE(outcome.error);
  CHECK_THAT(outcome.error->message, Catch::Contains("reported 2000 in all"));
  CHECK(outcome.requests <= 5);
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

TEST_CASE("without a totalCount the rest is read by id cursor", "[query_resolution]")
{
  FakeFleet fleet(2500);
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
  CHECK(outcome.ids.size() == 2500);
  CHECK(outcome.requests == 3);
}
