#include "jobs/query_resolution.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <mutex>
#include <stdexcept>

using nlohmann::json;
using namespace fleetrun;

namespace {

// A fake API over ids 0..n-1 (as 24-hex), answering pages the way the query says.
struct FakeApi {
  int devices = 0;
  std::vector<api::DeviceListParams> calls;

  api::ApiResult operator()(const api::DeviceListParams& params)
  {
    calls.push_back(params);
    std::string after;
    if (params.query_json) {
      const json query = json::parse(*params.query_json);
      if (query.contains("$and")) after = query["$and"][1]["id"]["$gt"];
    }
    json items = json::array();
    int skipped = 0;
    int matching = 0; // what the query matches: totalCount
    for (int i = 0; i < devices; ++i) {
      char id[25];
      std::snprintf(id, sizeof id, "%024x", i);
      if (!after.empty() && std::string(id) <= after) continue;
      ++matching;
      if (skipped++ < params.page * params.per_page) continue;
      if (static_cast<int>(items.size()) == params.per_page) continue;
      items.push_back({{"id", id}, {"name", "d" + std::to_string(i)}});
    }
    return api::ApiResponse{200, json{{"items", items}, {"totalCount", matching}}.dump(), {}, {}};
  }
};

} // namespace

TEST_CASE("an advanced query pages by id cursor, so changes cannot shift the pages", "[query_resolution]")
{
  FakeApi fake{25, {}};
  plans::QuerySpec spec;
  spec.query_json = R"({"deviceClass":"gateway"})";
  spec.has_advanced_query = true;
  std::vector<std::string> seen;
  const auto total = jobs::resolve_query(
      spec, std::ref(fake),
      [&](jobs::DevicePage&& page) {
        for (auto& [id, doc] : page) seen.push_back(id);
      },
      10);
  REQUIRE(total.has_value());
  CHECK(total->total == 25);
  CHECK(seen.size() == 25);
  REQUIRE(fake.calls.size() == 3);
  CHECK(*fake.calls[0].query_json == R"({"deviceClass":"gateway"})");
  CHECK(fake.calls[1].page == 0);
  CHECK(json::parse(*fake.calls[1].query_json) ==
        json::parse(R"({"$and":[{"deviceClass":"gateway"},{"id":{"$gt":"000000000000000000000009"}}]})"));
  CHECK(fake.calls[0].sort_field == "id");
}

TEST_CASE("simple filters page by offset, sorted by id", "[query_resolution]")
{
  FakeApi fake{15, {}};
  plans::QuerySpec spec;
  spec.filter = "d*";
  spec.tags = {{"site", "north"}};
  std::int64_t count = 0;
  const auto total = jobs::resolve_query(
      spec, std::ref(fake), [&](jobs::DevicePage&& page) { count += static_cast<std::int64_t>(page.size()); }, 10);
  CHECK(total->total == 15);
  CHECK(count == 15);
  REQUIRE(fake.calls.size() == 2);
  CHECK(fake.calls[1].page == 1);
  CHECK(fake.calls[0].filter == "d*");
  CHECK(fake.calls[0].tag_filter == std::vector<std::pair<std::string, std::string>>{{"site", "north"}});
  CHECK_FALSE(fake.calls[0].query_json.has_value());
}

TEST_CASE("deleted queries ask for deleted devices; errors stop the resolution", "[query_resolution]")
{
  plans::QuerySpec spec;
  spec.deleted = true;
  CHECK(jobs::list_params(spec).query_deleted);
  const auto failing = [](const api::DeviceListParams&) -> api::ApiResult {
    return std::unexpected(
        api::ApiError{api::ErrorKind::auth, api::Delivery::answered, 401, "Unauthorized", "bad", {}, {}});
  };
  const auto result = jobs::resolve_query(spec, failing, [](jobs::DevicePage&&) {});
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().status == 401);
}

TEST_CASE("a total that is a whole number of pages needs no empty last page", "[query_resolution]")
{
  for (const bool advanced : {true, false}) {
    FakeApi fake{20, {}};
    plans::QuerySpec spec;
    if (advanced) {
      spec.query_json = R"({"deviceClass":"gateway"})";
      spec.has_advanced_query = true;
    } else {
      spec.device_classes = {"gateway"};
    }
    std::int64_t stored = 0;
    const auto total = jobs::resolve_query(
        spec, std::ref(fake), [&](jobs::DevicePage&& page) { stored += static_cast<std::int64_t>(page.size()); }, 10);
    REQUIRE(total.has_value());
    CHECK(total->total == 20);
    CHECK(stored == 20);
    CHECK(fake.calls.size() == 2); // not a third, empty one
  }
}

TEST_CASE("documents are stored as the API sent them, in id order", "[query_resolution]")
{
  const std::string body =
      R"({"items": [ {"name": "a \"quoted\" one", "id": "000000000000000000000001", "tags": [{"key": "id", "value": "x"}]},)"
      R"( {"id":"000000000000000000000002","nested":{"id":"not this"}} ], "totalCount": 2, "perPage": 10})";
  const auto fetch = [&](const api::DeviceListParams&) { return api::ApiResult(api::ApiResponse{200, body, {}, {}}); };
  plans::QuerySpec spec;
  jobs::DevicePage stored;
  const auto total = jobs::resolve_query(
      spec, fetch, [&](jobs::DevicePage&& page) { std::move(page.begin(), page.end(), std::back_inserter(stored)); },
      10);
  REQUIRE(total.has_value());
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].first == "000000000000000000000001");
  CHECK(json::parse(stored[0].second)["name"] == "a \"quoted\" one");
  CHECK(stored[1].first == "000000000000000000000002");
  CHECK(stored[1].second == R"({"id":"000000000000000000000002","nested":{"id":"not this"}})");
}

TEST_CASE("a page that cannot be read stops the resolution with an error", "[query_resolution]")
{
  const auto fetch = [](const api::DeviceListParams&) {
    return api::ApiResult(
        api::ApiResponse{200, R"({"items":[{"id":"000000000000000000000001","name":"unterminated}]})", {}, {}});
  };
  int stored = 0;
  const auto total = jobs::resolve_query(
      plans::QuerySpec{}, fetch, [&](jobs::DevicePage&&) { ++stored; }, 10);
  REQUIRE_FALSE(total.has_value());
  CHECK(total.error().message.find("could not be read") != std::string::npos);
  CHECK(stored == 0);
}

TEST_CASE("when storing a page fails, fetching stops and the failure reaches the caller", "[query_resolution]")
{
  FakeApi fake{1000, {}};
  std::mutex calls_mutex;
  const auto fetch = [&](const api::DeviceListParams& params) {
    std::lock_guard lock(calls_mutex);
    return fake(params);
  };
  plans::QuerySpec spec;
  CHECK_THROWS_WITH(jobs::resolve_query(
                        spec, fetch, [](jobs::DevicePage&&) { throw std::runtime_error("disk full"); }, 10),
                    "disk full");
  std::lock_guard lock(calls_mutex);
  CHECK(fake.calls.size() <= 4); // the page that failed and at most the queue's worth ahead
}

TEST_CASE("an exception while fetching ends the resolution with an error, not the process", "[query_resolution]")
{
  const auto fetch = [](const api::DeviceListParams&) -> api::ApiResult {
    throw std::runtime_error("socket exploded");
  };
  int stored = 0;
  const auto total = jobs::resolve_query(
      plans::QuerySpec{}, fetch, [&](jobs::DevicePage&&) { ++stored; }, 10);
  REQUIRE_FALSE(total.has_value());
  CHECK(total.error().message.find("socket exploded") != std::string::npos);
  CHECK(stored == 0);
}

namespace {

std::string hex_id(long n)
{
  char id[25];
  std::snprintf(id, sizeof id, "%024lx", n);
  return id;
}

api::ApiResult page_of(long first, int count, long total)
{
  json items = json::array();
  for (int i = 0; i < count; ++i) items.push_back({{"id", hex_id(first + i)}});
  return api::ApiResponse{200, json{{"items", items}, {"totalCount", total}}.dump(), {}, {}};
}

plans::QuerySpec advanced(const char* query = R"({"deviceClass":"gateway"})")
{
  plans::QuerySpec spec;
  spec.name = "q";
  spec.query_json = query;
  spec.has_advanced_query = true;
  return spec;
}

} // namespace

TEST_CASE("a server that ignores the cursor and repeats its page is stopped at the second page", "[query_resolution]")
{
  int calls = 0;
  const auto result = jobs::resolve_query(
      advanced(),
      [&](const api::DeviceListParams&) {
        ++calls;
        return page_of(0, 1000, 5000);
      },
      [](jobs::DevicePage&&) {});
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().message, Catch::Contains("out of id order or repeated"));
  CHECK(calls == 2);
}

TEST_CASE("a server that repeats a page number's page is stopped too", "[query_resolution]")
{
  plans::QuerySpec spec;
  spec.name = "q";
  spec.filter = "north-*"; // simple filters page by number
  int calls = 0;
  const auto result = jobs::resolve_query(
      spec,
      [&](const api::DeviceListParams&) {
        ++calls;
        return page_of(0, 1000, 5000);
      },
      [](jobs::DevicePage&&) {});
  REQUIRE_FALSE(result.has_value());
  CHECK(calls == 2);
}

TEST_CASE("a server that keeps sending new devices beyond the total it reported is stopped", "[query_resolution]")
{
  long next = 0;
  const auto result = jobs::resolve_query(
      advanced(),
      [&](const api::DeviceListParams&) {
        auto page = page_of(next, 1000, 2000);
        next += 1000;
        return page;
      },
      [](jobs::DevicePage&&) {});
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().message, Catch::Contains("reported 2000 in all"));
  CHECK(next <= 4000);
}

TEST_CASE("a page larger than asked for is refused", "[query_resolution]")
{
  const auto result = jobs::resolve_query(
      advanced(), [&](const api::DeviceListParams&) { return page_of(0, 11, 11); }, [](jobs::DevicePage&&) {}, 10);
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().message, Catch::Contains("11 devices in a page of 10"));
}

TEST_CASE("reading stops as soon as a query matches more than its expect.max", "[query_resolution]")
{
  FakeApi fake{5000, {}};
  plans::QuerySpec spec = advanced();
  spec.expect_max = 1500;
  std::int64_t stored = 0;
  const auto result = jobs::resolve_query(
      spec, std::ref(fake), [&](jobs::DevicePage&& page) { stored += static_cast<std::int64_t>(page.size()); });
  REQUIRE(result.has_value());
  CHECK_FALSE(result->complete);
  CHECK(result->total == 2000);
  CHECK(stored == 2000);
  CHECK(fake.calls.size() == 2);
}

TEST_CASE("a negative or missing totalCount does not stop a well-formed resolution", "[query_resolution]")
{
  long next = 0;
  const auto result = jobs::resolve_query(
      advanced(),
      [&](const api::DeviceListParams&) {
        auto page = page_of(next, next < 2000 ? 1000 : 10, -1);
        next += 1000;
        return page;
      },
      [](jobs::DevicePage&&) {});
  REQUIRE(result.has_value());
  CHECK(result->total == 2010);
}
