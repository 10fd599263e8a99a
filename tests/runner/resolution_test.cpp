// Resolution hands every page of every used query to the sink, in order,
// and counts patch changes on the way.
#include "runner/resolution.hpp"

#include "plans/plan_parser.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fleetrun;
using namespace fleetrun::runner;
using nlohmann::json;

namespace {

struct RecordingSink final : DeviceListSink {
  void begin_list(const std::string& run, const plans::QuerySpec& query) override
  {
    calls.push_back("begin " + run + " " + query.name);
  }
  void append_page(const std::string&, const plans::QuerySpec& query, const jobs::DevicePage& page) override
  {
    calls.push_back("page " + query.name + " " + std::to_string(page.size()));
    for (const auto& [id, document] : page) ids.push_back(id);
  }
  void end_list(const std::string&, const plans::QuerySpec& query, std::int64_t total, bool) override
  {
    calls.push_back("end " + query.name + " " + std::to_string(total));
  }
  std::vector<std::string> calls;
  std::vector<std::string> ids;
};

std::string id_of(int n)
{
  char text[25];
  std::snprintf(text, sizeof text, "5f%022d", n);
  return text;
}

// A fleet of `size` devices, odd ones tagged gateway, answered by id cursor.
jobs::FetchPage fleet(int size, int& requests)
{
  return [size, &requests](const api::DeviceListParams& params) -> api::ApiResult {
    ++requests;
    std::string after;
    if (params.query_json) {
      const json query = json::parse(*params.query_json);
      if (query.contains("$and")) after = query["$and"][1]["id"]["$gt"];
    }
    json items = json::array();
    int total = 0;
    for (int n = 1; n <= size; ++n) {
      ++total;
      const std::string id = id_of(n);
      if (id <= after || static_cast<int>(items.size()) == params.per_page) continue;
      items.push_back({{"id", id}, {"name", "d" + std::to_string(n)}, {"description", n % 2 ? "odd" : "even"}});
    }
    return api::ApiResponse{200, json{{"items", items}, {"count", items.size()}, {"totalCount", total}}.dump(), {}, {}};
  };
}

plans::Plan plan_of(const std::string& text)
{
  auto plan = plans::parse_plan(text, "p.yaml", [](const std::string&) { return std::nullopt; });
  if (!plan) FAIL(plan.error().render_all());
  return std::move(*plan);
}

} // namespace

TEST_CASE("only the queries some step uses are resolved, each page to the sink in order", "[resolution]")
{
  const plans::Plan plan = plan_of(R"(version: 1
queries:
  all: {query: {}}
  unused: {query: {deviceClass: gateway}}
steps:
  - {id: e, action: export, query: all, email: a@example.com}
)");
  RecordingSink sink;
  int requests = 0;
  REQUIRE(resolve_queries(plan, "r-1", fleet(2500, requests), sink, nullptr).has_value());
  CHECK(sink.calls ==
        std::vector<std::string>{"begin r-1 all", "page all 1000", "page all 1000", "page all 500", "end all 2500"});
  CHECK(requests == 3);
  CHECK(std::is_sorted(sink.ids.begin(), sink.ids.end()));
  CHECK(sink.ids.size() == 2500);
}

TEST_CASE("a patch step's changes are tallied while its pages arrive", "[resolution]")
{
  const plans::Plan plan = plan_of(R"(version: 1
queries:
  all: {query: {}}
steps:
  - {id: p, action: patch, query: all, allow_whole_fleet: true, updateFields: {description: odd}}
)");
  RecordingSink sink;
  PatchTallies tallies;
  int requests = 0;
  REQUIRE(resolve_queries(plan, "r-1", fleet(1200, requests), sink, &tallies).has_value());
  const PatchTally& tally = tallies.at(0);
  CHECK(tally.devices == 1200);
  REQUIRE(tally.changes.count("description") == 1);
  CHECK(tally.changes.at("description").at({"\"even\"", "\"odd\""}) == 600); // the odd ones change nothing
}

TEST_CASE("a failed page ends resolution with that error and no end of list", "[resolution]")
{
  const plans::Plan plan =
      plan_of("version: 1\nqueries:\n  all: {query: {}}\nsteps:\n  - {id: e, action: export, query: all}\n");
  RecordingSink sink;
  int requests = 0;
  const auto healthy = fleet(3000, requests);
  const jobs::FetchPage failing = [&](const api::DeviceListParams& params) -> api::ApiResult {
    if (requests == 1) {
      ++requests;
      return std::unexpected(
          api::ApiError{api::ErrorKind::transient, api::Delivery::answered, 503, "", "down", {}, {}});
    }
    return healthy(params);
  };
  const auto result = resolve_queries(plan, "r-1", failing, sink, nullptr);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().status == 503);
  CHECK(sink.calls.back() == "page all 1000");
}
