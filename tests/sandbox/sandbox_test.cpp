#include "sandbox/sandbox.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>
#include <thread>

using nlohmann::json;
using namespace fleetrun::sandbox;

namespace {

constexpr const char* k_app = "5f1a2b3c4d5e6f7a8b9c0d1e";
const std::string k_base = std::string("/applications/") + k_app;

struct Fixture {
  explicit Fixture(RuntimeConfig runtime = {}, std::size_t devices = 50)
  {
    SandboxConfig config;
    config.runtime = runtime;
    sandbox = std::make_unique<Sandbox>(config);
    sandbox->seed({devices, 7, 1'790'000'000'000});
  }

  Response call(const std::string& method, const std::string& path, const json& body = nullptr,
                std::vector<std::pair<std::string, std::string>> query = {}, const std::string& token = "sandbox-token")
  {
    Request request;
    request.method = method;
    request.path = path.starts_with("/_") ? path : k_base + path;
    request.query = std::move(query);
    request.authorization = token.empty() ? "" : "Bearer " + token;
    request.body = body.is_null() ? "" : body.dump();
    return sandbox->serve(request);
  }

  json devices(std::vector<std::pair<std::string, std::string>> query = {})
  {
    const auto response = call("GET", "/devices", nullptr, std::move(query));
    REQUIRE(response.status == 200);
    return json::parse(response.body);
  }

  json admin_devices() { return json::parse(call("GET", "/_sandbox/devices").body); }

  json wait_for_job(const std::string& job_id)
  {
    for (int i = 0; i < 500; ++i) {
      const auto response = call("GET", "/jobLogs/" + job_id);
      REQUIRE(response.status == 200);
      const json log = json::parse(response.body);
      const std::string status = log["status"];
      if (status != "queued" && status != "inProgress") return log;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("job did not finish");
    return nullptr;
  }

  std::unique_ptr<Sandbox> sandbox;
};

RuntimeConfig quick_jobs(std::size_t threshold = 100)
{
  RuntimeConfig rc;
  rc.job_threshold = threshold;
  rc.job_duration_ms = 50;
  return rc;
}

} // namespace

TEST_CASE("requests without a valid token get 401", "[sandbox]")
{
  Fixture f;
  CHECK(f.call("GET", "/devices", nullptr, {}, "").status == 401);
  const auto wrong = f.call("GET", "/devices", nullptr, {}, "wrong");
  CHECK(wrong.status == 401);
  CHECK(json::parse(wrong.body)["type"] == "Unauthorized");
}

TEST_CASE("unknown application and device give 404", "[sandbox]")
{
  Fixture f;
  Request request{"GET", "/applications/5f1a2b3c4d5e6f7a8b9c0d1f/devices", {}, "Bearer sandbox-token", "", ""};
  CHECK(f.sandbox->serve(request).status == 404);
  CHECK(f.call("GET", "/devices/5f1a2b3c4d5e6f7a8b9c0d1f").status == 404);
  CHECK(json::parse(f.call("GET", "/devices/5f1a2b3c4d5e6f7a8b9c0d1f").body)["type"] == "NotFound");
}

TEST_CASE("paging is stable and complete", "[sandbox]")
{
  Fixture f({}, 95);
  std::set<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    const json body = f.devices({{"sortField", "id"}, {"perPage", "10"}, {"page", std::to_string(page)}});
    CHECK(body["totalCount"] == 95);
    CHECK(body["count"] == (page < 9 ? 10 : 5));
    std::string previous;
    for (const auto& device : body["items"]) {
      CHECK(device["id"].get<std::string>() > previous);
      previous = device["id"];
      seen.insert(device["id"].get<std::string>());
    }
  }
  CHECK(seen.size() == 95);
}

TEST_CASE("paging through a filtered query scans the fleet once", "[sandbox]")
{
  // Regression: the cache key once included `page`, so every page re-scanned.
  Fixture f({}, 30);
  for (int page = 0; page < 3; ++page) {
    f.devices({{"filterField", "name"}, {"filter", "*"}, {"perPage", "10"}, {"page", std::to_string(page)}});
  }
  for (int page = 0; page < 3; ++page) {
    f.devices({{"query", R"({"name":{"$ne":"x"}})"}, {"perPage", "10"}, {"page", std::to_string(page)}});
  }
  const json totals = json::parse(f.call("GET", "/_sandbox/stats").body)["totals"];
  CHECK(totals["queryCacheMisses"] == 2);
  CHECK(totals["queryCacheHits"] == 4);
}

TEST_CASE("perPage is limited to 1000 and sort fields are checked", "[sandbox]")
{
  Fixture f;
  CHECK(f.call("GET", "/devices", nullptr, {{"perPage", "1001"}}).status == 400);
  CHECK(f.call("GET", "/devices", nullptr, {{"sortField", "colour"}}).status == 400);
}

TEST_CASE("sorting by name descending", "[sandbox]")
{
  Fixture f;
  const json body = f.devices({{"sortField", "name"}, {"sortDirection", "desc"}, {"perPage", "1000"}});
  for (std::size_t i = 1; i < body["items"].size(); ++i) {
    CHECK(body["items"][i - 1]["name"].get<std::string>() >= body["items"][i]["name"].get<std::string>());
  }
}

TEST_CASE("the advanced query overrides the simple filters, and invalid queries name the field", "[sandbox]")
{
  Fixture f;
  const json gateways =
      f.devices({{"query", R"({"deviceClass":"gateway"})"}, {"filter", "nothing-matches"}, {"perPage", "1000"}});
  CHECK(gateways["totalCount"].get<int>() > 0);
  for (const auto& d : gateways["items"]) CHECK(d["deviceClass"] == "gateway");
  const auto bad = f.call("GET", "/devices", nullptr, {{"query", R"({"nmae":"x"})"}});
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["message"] == R"(query.nmae: unknown field "nmae" (did you mean "name"?))");
  CHECK(f.call("GET", "/devices", nullptr, {{"query", "{not json"}}).status == 400);
}

TEST_CASE("simple filters: glob, deviceClass array, bracketed tagFilter", "[sandbox]")
{
  Fixture f;
  const json north = f.devices({{"filterField", "name"}, {"filter", "north-*"}, {"perPage", "1000"}});
  for (const auto& d : north["items"]) CHECK(d["name"].get<std::string>().starts_with("north-"));
  const json tagged = f.devices({{"tagFilter[0][key]", "site"}, {"tagFilter[0][value]", "south"}, {"perPage", "1000"}});
  CHECK(tagged["totalCount"].get<int>() > 0);
  for (const auto& d : tagged["items"]) CHECK(d["tags"][0]["value"] == "south");
  const json classes = f.devices({{"deviceClass[0]", "gateway"}, {"deviceClass[1]", "embedded"}, {"perPage", "1000"}});
  for (const auto& d : classes["items"]) CHECK((d["deviceClass"] == "gateway" || d["deviceClass"] == "embedded"));
  CHECK(f.call("GET", "/devices", nullptr, {{"deviceClass", "spaceship"}}).status == 400);
}

TEST_CASE("bulk patch by ids answers 200 with counts and changes the devices", "[sandbox]")
{
  Fixture f;
  const json all = f.devices({{"sortField", "id"}, {"perPage", "3"}});
  json ids = json::array();
  for (const auto& d : all["items"]) ids.push_back(d["id"]);
  ids.push_back("5f00000000000000000000ff"); // unknown: counted as failed
  const auto response =
      f.call("PATCH", "/devices",
             {{"deviceIds", ids},
              {"updateOperations",
               {{{"operation", "set"}, {"target", "tag"}, {"value", {{"key", "fw"}, {"value", "9.9.9"}}}}}}});
  REQUIRE(response.status == 200);
  CHECK(json::parse(response.body) == json{{"updated", 3}, {"failed", 1}, {"skipped", 0}});
  const json patched = f.devices({{"query", R"({"tags":{"fw":"9.9.9"}})"}});
  CHECK(patched["totalCount"] == 3);
}

TEST_CASE("bulk bodies are validated against the official schemas", "[sandbox]")
{
  Fixture f;
  const auto response = f.call("PATCH", "/devices", {{"deviceIds", {"bad"}}, {"updateFields", {{"name", "x"}}}});
  CHECK(response.status == 400);
  CHECK(json::parse(response.body) ==
        json{{"type", "Validation"}, {"message", "deviceIds[0]: must be a 24-character hexadecimal id, not \"bad\""}});
  CHECK(f.call("PATCH", "/devices", {{"deviceIds", json::array()}}).status == 400);
  CHECK(f.call("POST", "/devices/delete", json::object()).status == 400);
  CHECK(f.call("POST", "/devices/command", {{"name", "reboot"}}).status == 400);
  Request garbage{"POST", k_base + "/devices/delete", {}, "Bearer sandbox-token", "{", ""};
  CHECK(f.sandbox->serve(garbage).status == 400);
}

TEST_CASE("above the threshold a bulk action answers 202 and runs as a job", "[sandbox]")
{
  Fixture f(quick_jobs(10), 40);
  const auto response =
      f.call("PATCH", "/devices",
             {{"query", json::object()},
              {"updateOperations", {{{"operation", "set"}, {"target", "description"}, {"value", "bulk"}}}}});
  REQUIRE(response.status == 202);
  const json queued = json::parse(response.body);
  CHECK(queued["jobQueued"] == true);
  CHECK(queued["success"] == true);
  CHECK(queued["jobId"].get<std::string>().size() <= 21);
  const json log = f.wait_for_job(queued["jobId"]);
  CHECK(log["status"] == "completed");
  CHECK(log["progress"] == json{{"completed", 40}, {"total", 40}});
  CHECK(log["output"]["updated"] == 40);
  CHECK(log["jobId"] == queued["jobId"]);
  for (const auto& d : f.admin_devices()) CHECK(d["description"] == "bulk");
}

TEST_CASE("forceJob queues a delete even for one device, restore brings it back", "[sandbox]")
{
  Fixture f(quick_jobs(), 5);
  const std::string id = f.devices()["items"][0]["id"];
  const auto response = f.call("POST", "/devices/delete", {{"query", {{"id", id}}}, {"forceJob", true}});
  REQUIRE(response.status == 202);
  CHECK(f.wait_for_job(json::parse(response.body)["jobId"])["output"]["removed"] == 1);
  CHECK(f.devices()["totalCount"] == 4);
  CHECK(f.call("GET", "/devices/" + id).status == 404);
  const json deleted = f.devices({{"queryDeleted", "true"}});
  REQUIRE(deleted["totalCount"] == 1);
  CHECK(deleted["items"][0].contains("deletedAt"));
  const auto restored = f.call("POST", "/devices/restore", {{"query", {{"id", id}}}});
  REQUIRE(restored.status == 200);
  CHECK(json::parse(restored.body) == json{{"restored", 1}, {"failed", 0}});
  CHECK(f.devices()["totalCount"] == 5);
}

TEST_CASE("job logs can be listed and found by their own id", "[sandbox]")
{
  Fixture f(quick_jobs(0), 5);
  const auto response = f.call("POST", "/devices/removeData", {{"query", json::object()}});
  REQUIRE(response.status == 202);
  const std::string job_id = json::parse(response.body)["jobId"];
  f.wait_for_job(job_id);
  const json list = json::parse(f.call("GET", "/jobLogs").body);
  REQUIRE(list["totalCount"] == 1);
  const std::string log_id = list["items"][0]["id"];
  CHECK(log_id.size() == 24);
  CHECK(list["items"][0]["jobId"] == job_id);
  CHECK(f.call("GET", "/jobLogs/" + log_id).status == 200);
  f.call("POST", "/_sandbox/config", {{"joblogByJobId", false}});
  CHECK(f.call("GET", "/jobLogs/" + job_id).status == 404);
  CHECK(f.call("GET", "/jobLogs/" + log_id).status == 200);
}

TEST_CASE("jobs can be made to fail or error", "[sandbox]")
{
  RuntimeConfig rc = quick_jobs(0);
  rc.job_fail_rate = 1;
  Fixture f(rc, 10);
  const auto response = f.call("POST", "/devices/delete", {{"query", json::object()}});
  const json log = f.wait_for_job(json::parse(response.body)["jobId"]);
  CHECK(log["status"] == "failed");
  CHECK(log["error"]["message"].get<std::string>().find("Injected") != std::string::npos);
  CHECK(f.devices()["totalCount"] == 10); // a failed job did nothing
  f.call("POST", "/_sandbox/config", {{"jobFailRate", 0}, {"jobErrorRate", 1}});
  const json errored =
      f.wait_for_job(json::parse(f.call("POST", "/devices/delete", {{"query", json::object()}}).body)["jobId"]);
  CHECK(errored["status"] == "errored");
  CHECK(f.devices()["totalCount"] == 5); // half done
}

TEST_CASE("remove data has a visible effect on data points", "[sandbox]")
{
  Fixture f({}, 20);
  std::size_t before = 0;
  for (const auto& d : f.admin_devices()) before += d["dataPointCount"].get<std::size_t>();
  REQUIRE(before > 0);
  const auto response =
      f.call("POST", "/devices/removeData", {{"query", json::object()}, {"attributes", {"temperature"}}});
  REQUIRE(response.status == 200);
  std::size_t after = 0;
  for (const auto& d : f.admin_devices()) {
    after += d["dataPointCount"].get<std::size_t>();
    CHECK_FALSE(d["dataPointsByAttribute"].contains("temperature"));
  }
  CHECK(after < before);
  CHECK(json::parse(response.body).contains("completed"));
}

TEST_CASE("commands land in each device's command history", "[sandbox]")
{
  Fixture f({}, 5);
  const std::string id = f.devices()["items"][0]["id"];
  const auto response =
      f.call("POST", "/devices/command",
             {{"name", "reboot"}, {"payload", {{"delay", 5}}}, {"time", 1'790'000'000'123}, {"deviceIds", {id}}});
  REQUIRE(response.status == 200);
  CHECK(json::parse(response.body) == json{{"success", true}});
  const auto history = f.call("GET", "/devices/" + id + "/command", nullptr, {{"limit", "10"}, {"start", "1"}});
  REQUIRE(history.status == 200);
  const json commands = json::parse(history.body);
  REQUIRE(commands.size() == 1);
  CHECK(commands[0] == json{{"name", "reboot"}, {"payload", {{"delay", 5}}}, {"time", "2026-09-21T14:13:20.123Z"}});
  const auto by_tag = f.call("POST", "/devices/command", {{"name", "ping"}, {"deviceTags", {{{"key", "site"}}}}});
  CHECK(by_tag.status == 200);
  std::size_t pinged = 0;
  for (const auto& d : f.admin_devices()) {
    for (const auto& c : d["commands"]) pinged += c["name"] == "ping" ? 1 : 0;
  }
  CHECK(pinged == 5);
}

TEST_CASE("create device answers 201 and the device can be fetched", "[sandbox]")
{
  Fixture f({}, 0);
  const auto created =
      f.call("POST", "/devices",
             {{"name", "new-one"}, {"deviceClass", "standalone"}, {"tags", {{{"key", "run"}, {"value", "r1"}}}}});
  REQUIRE(created.status == 201);
  const std::string id = json::parse(created.body)["id"];
  const auto fetched = f.call("GET", "/devices/" + id);
  REQUIRE(fetched.status == 200);
  CHECK(json::parse(fetched.body)["name"] == "new-one");
  CHECK(f.call("POST", "/devices", {{"description", "no name"}}).status == 400);
}

TEST_CASE("export answers success and serves the file", "[sandbox]")
{
  Fixture f(quick_jobs(0), 3);
  const auto response = f.call("POST", "/devices/export", {{"format", "json"}}, {{"email", "ops@example.com"}});
  REQUIRE(response.status == 202);
  const json log = f.wait_for_job(json::parse(response.body)["jobId"]);
  REQUIRE(log["status"] == "completed");
  CHECK(log["input"]["email"] == "ops@example.com");
  const std::string url = log["output"]["downloadUrls"][0];
  const std::string path = url.substr(url.find("/_sandbox"));
  const json exported = json::parse(f.call("GET", path).body);
  CHECK(exported.size() == 3);
}

TEST_CASE("the rate limit answers 429 with Retry-After", "[sandbox]")
{
  RuntimeConfig rc;
  rc.rate = 1;
  rc.burst = 2;
  Fixture f(rc, 1);
  CHECK(f.call("GET", "/devices").status == 200);
  CHECK(f.call("GET", "/devices").status == 200);
  const auto limited = f.call("GET", "/devices");
  CHECK(limited.status == 429);
  CHECK(std::find(limited.headers.begin(), limited.headers.end(),
                  std::pair<std::string, std::string>{"Retry-After", "1"}) != limited.headers.end());
  CHECK(f.call("GET", "/_sandbox/health").status == 200); // the admin view is never limited
  const json stats = json::parse(f.call("GET", "/_sandbox/stats").body);
  CHECK(stats["totals"]["rateLimited"] == 1);
}

TEST_CASE("fault injection is seeded and reproducible", "[sandbox]")
{
  RuntimeConfig rc;
  rc.fault_5xx = 0.3;
  rc.fault_drop_before = 0.2;
  rc.fault_drop_after = 0.2;
  const auto outcomes = [&] {
    Fixture f(rc, 3);
    std::string trace;
    for (int i = 0; i < 60; ++i) {
      const auto r = f.call("POST", "/devices/delete", {{"query", {{"name", "none"}}}});
      trace += r.disposition == Response::Disposition::drop ? 'D' : (r.status == 503 ? 'E' : 'o');
    }
    return trace;
  };
  const std::string first = outcomes();
  CHECK(first == outcomes());
  CHECK(first.find('D') != std::string::npos);
  CHECK(first.find('E') != std::string::npos);
  CHECK(first.find('o') != std::string::npos);
}

TEST_CASE("a drop-after fault applies the mutation before dropping", "[sandbox]")
{
  RuntimeConfig rc;
  rc.fault_drop_after = 1;
  Fixture f(rc, 4);
  const auto response = f.call("POST", "/devices/delete", {{"query", json::object()}});
  CHECK(response.disposition == Response::Disposition::drop);
  rc.fault_drop_after = 0;
  f.call("POST", "/_sandbox/config", {{"faultDropAfter", 0}});
  CHECK(f.devices()["totalCount"] == 0);
}

TEST_CASE("a drop-before fault leaves the fleet untouched", "[sandbox]")
{
  RuntimeConfig rc;
  rc.fault_drop_before = 1;
  Fixture f(rc, 4);
  CHECK(f.call("POST", "/devices/delete", {{"query", json::object()}}).disposition == Response::Disposition::drop);
  f.call("POST", "/_sandbox/config", {{"faultDropBefore", 0}});
  CHECK(f.devices()["totalCount"] == 4);
}

TEST_CASE("stats count requests by route and status", "[sandbox]")
{
  Fixture f({}, 2);
  f.devices();
  f.devices();
  f.call("GET", "/devices/5f00000000000000000000ff");
  const json stats = json::parse(f.call("GET", "/_sandbox/stats").body);
  CHECK(stats["requests"]["GET /applications/{applicationId}/devices 200"] == 2);
  CHECK(stats["requests"]["GET /applications/{applicationId}/devices/{id} 404"] == 1);
}

TEST_CASE("a devices export loads back, out of order ids included", "[sandbox]")
{
  SandboxConfig config;
  Sandbox sandbox(config);
  sandbox.load_export(
      json::array({{{"id", "5f00000000000000000000b2"}, {"name", "b"}},
                   {{"id", "5f00000000000000000000a1"}, {"name", "a"}, {"tags", {{{"key", "k"}, {"value", "v"}}}}}}));
  CHECK(sandbox.device_count() == 2);
  CHECK_THROWS_WITH(sandbox.load_export(json::array({{{"name", "no id"}}})), Catch::Contains("device #0"));
}

TEST_CASE("bracket parameters unflatten into JSON", "[sandbox]")
{
  CHECK(unflatten_parameters(
            {{"tagFilter[0][key]", "a"}, {"tagFilter[0][value]", "b"}, {"tagFilter[1][key]", "c"}, {"page", "2"}}) ==
        json{{"tagFilter", {{{"key", "a"}, {"value", "b"}}, {{"key", "c"}}}}, {"page", "2"}});
  CHECK(unflatten_parameters({{"deviceClass[]", "a"}, {"deviceClass[]", "b"}}) == json{{"deviceClass", {"a", "b"}}});
}

TEST_CASE("an id cursor page answers exactly what matching the whole query answers", "[sandbox]")
{
  Fixture fixture({}, 300);
  const json base = {{"deviceClass", "standalone"}};
  const auto page_for = [&](const json& query, const std::string& sort = "asc") {
    return fixture.devices({{"query", query.dump()}, {"perPage", "25"}, {"sortField", "id"}, {"sortDirection", sort}});
  };
  const json all = page_for(base);
  REQUIRE(all["totalCount"].get<int>() > 50);
  std::string after = all["items"][9]["id"];
  // The cursor form the runner sends (served from the base query's cached
  // selection) and the same condition written the other way round (matched
  // device by device) must agree on items, count and total.
  const json cursor = {{"$and", {base, {{"id", {{"$gt", after}}}}}}};
  const json reordered = {{"$and", {{{"id", {{"$gt", after}}}}, base}}};
  const json fast = page_for(cursor);
  const json slow = page_for(reordered);
  CHECK(fast["items"] == slow["items"]);
  CHECK(fast["totalCount"] == slow["totalCount"]);
  CHECK(fast["count"] == 25);
  CHECK(fast["totalCount"].get<int>() == all["totalCount"].get<int>() - 10);
  CHECK(fast["items"][0] == all["items"][10]);
  CHECK(fast["query"] == cursor);
  // Past the last device: an empty page.
  const std::string last = fixture.devices(
      {{"query", base.dump()}, {"perPage", "1"}, {"sortField", "id"}, {"sortDirection", "desc"}})["items"][0]["id"];
  const json beyond = page_for({{"$and", {base, {{"id", {{"$gt", last}}}}}}});
  CHECK(beyond["items"].empty());
  CHECK(beyond["totalCount"] == 0);
  // A change to a device shows in the next page (the rendered documents are per store generation).
  const std::string target = fast["items"][0]["id"];
  REQUIRE(fixture.call("PATCH", "/devices/" + target, {{"description", "changed"}}).status == 200);
  CHECK(page_for(cursor)["items"][0]["description"] == "changed");
}

TEST_CASE("an id range page answers what matching the whole query answers, every bound and direction", "[sandbox]")
{
  Fixture fixture({}, 300);
  const json base = {{"deviceClass", "standalone"}};
  const auto page_for = [&](const json& query, const std::string& sort, int page = 0) {
    return fixture.devices({{"query", query.dump()},
                            {"perPage", "7"},
                            {"page", std::to_string(page)},
                            {"sortField", "id"},
                            {"sortDirection", sort}});
  };
  const json all = fixture.devices({{"query", base.dump()}, {"perPage", "1000"}, {"sortField", "id"}});
  const std::string low = all["items"][20]["id"];
  const std::string high = all["items"][60]["id"];
  int compared = 0;
  for (const char* low_op : {"$gt", "$gte", ""}) {
    for (const char* high_op : {"$lt", "$lte", ""}) {
      json terms = json::array({base});
      if (*low_op) terms.push_back({{"id", {{low_op, low}}}});
      if (*high_op) terms.push_back({{"id", {{high_op, high}}}});
      if (terms.size() == 1) continue;
      // The range as the runner sends it (served by binary search) and the
      // same conditions in another order (matched device by device).
      json reordered = terms;
      std::rotate(reordered.begin(), reordered.begin() + 1, reordered.end());
      for (const char* sort : {"asc", "desc"}) {
        for (const int page : {0, 3}) {
          INFO(low_op << " " << high_op << " " << sort << " page " << page);
          const json fast = page_for({{"$and", terms}}, sort, page);
          const json slow = page_for({{"$and", reordered}}, sort, page);
          CHECK(fast["items"] == slow["items"]);
          CHECK(fast["totalCount"] == slow["totalCount"]);
          CHECK(fast["count"] == slow["count"]);
          ++compared;
        }
      }
    }
  }
  CHECK(compared == 32);
  const json stats = json::parse(fixture.call("GET", "/_sandbox/stats").body);
  CHECK(stats["totals"]["queryCacheHits"].get<int>() >= 16); // the fast form reads the base query's selection
}

TEST_CASE("runtime config: every key reads back, a wrong type or unknown key changes nothing", "[sandbox]")
{
  Fixture f;
  const json before = json::parse(f.call("GET", "/_sandbox/config").body);
  for (const char* key : {"rate", "burst", "fault5xx", "faultDropBefore", "faultDropAfter", "latencyMs", "jobThreshold",
                          "jobDurationMs", "jobErrorRate", "jobFailRate", "joblogByJobId", "jobLogsVisible"}) {
    CHECK(before.contains(key));
  }
  const auto changed = f.call("POST", "/_sandbox/config", json{{"rate", 7}, {"jobLogsVisible", false}});
  REQUIRE(changed.status == 200);
  CHECK(json::parse(changed.body)["rate"] == 7.0);
  CHECK(json::parse(changed.body)["jobLogsVisible"] == false);

  const auto wrong_type = f.call("POST", "/_sandbox/config", json{{"rate", 1}, {"latencyMs", "fast"}});
  CHECK(wrong_type.status == 400);
  CHECK_THAT(wrong_type.body, Catch::Contains("latencyMs"));
  const auto unknown = f.call("POST", "/_sandbox/config", json{{"rate", 2}, {"speed", 1}});
  CHECK(unknown.status == 400);
  const auto negative = f.call("POST", "/_sandbox/config", json{{"jobThreshold", -1}});
  CHECK(negative.status == 400);
  CHECK(json::parse(f.call("GET", "/_sandbox/config").body)["rate"] == 7.0); // untouched by the refused ones
}
