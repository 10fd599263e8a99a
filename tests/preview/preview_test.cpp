// The preview's facts, its text and its streamed JSON, from a state file
// resolved through the coordinator against the in-process sandbox.
#include "preview/preview.hpp"

#include "tests/support/fake_run.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace fleetrun;
using namespace fleetrun::runner;
using namespace fleetrun::preview;
using namespace fleetrun::testing;

namespace {

const char* k_plan = R"(version: 1
queries:
  gateways: {query: {deviceClass: gateway}, expect: {min: 1, max: 100000}}
  all: {query: {}}
steps:
  - {id: label, action: patch, query: gateways, batch_size: 7,
     updateFields: {description: "a gateway"},
     updateOperations: [{operation: set, target: tag, value: {key: role, value: edge}}]}
  - {id: ping, action: send_command, query: all, allow_whole_fleet: true, name: ping, payload: {n: 1}}
  - {id: purge, action: remove_data, query: gateways, attributes: [temperature], start: -3600000}
  - {id: add, action: create, devices: [{name: new-1, deviceClass: standalone}, {name: new-2, deviceClass: standalone}]}
)";

std::int64_t count_where(const json& devices, const std::string& device_class)
{
  return std::count_if(devices.begin(), devices.end(), [&](const json& d) { return d["deviceClass"] == device_class; });
}

} // namespace

TEST_CASE("the preview counts each step's devices and requests and shows a sample", "[preview]")
{
  FakeRun f(k_plan, 200);
  const std::string run = f.preview();
  const json facts = preview_facts(*f.store, f.plan, run);
  const std::int64_t gateways = count_where(f.fleet(), "gateway");
  REQUIRE(gateways > 0);
  const auto query = std::find_if(facts["queries"].begin(), facts["queries"].end(),
                                  [](const json& q) { return q["name"] == "gateways"; });
  REQUIRE(query != facts["queries"].end());
  CHECK((*query)["devices"] == gateways);
  CHECK((*query)["expect"]["max"] == 100000);
  const json& label = facts["steps"][0];
  CHECK(label["devices"] == gateways);
  CHECK(label["batchSize"] == 7);
  CHECK(label["requests"] == (gateways + 6) / 7);
  CHECK(static_cast<std::int64_t>(label["sample"].size()) == std::min<std::int64_t>(5, gateways));
  CHECK(facts["steps"][1]["devices"] == 200);
  CHECK(facts["steps"][1]["requests"] == 1);
  CHECK(facts["steps"][1]["command"]["name"] == "ping");
  CHECK(facts["steps"][1]["command"]["delivery"] == "effectively_once");
  CHECK(facts["steps"][2]["removeData"]["start"] == "3600 s before now");
  CHECK(facts["steps"][2]["removeData"]["irreversible"] == true);
  CHECK(facts["steps"][3]["create"] == json::array({"new-1", "new-2"}));
  CHECK(facts["steps"][3]["requests"] == 2);
}

TEST_CASE("a patch preview counts each field's before -> after", "[preview]")
{
  FakeRun f(k_plan, 200);
  const std::string run = f.preview();
  const json counted = preview_facts(*f.store, f.plan, run);
  std::int64_t described = 0;
  for (const auto& change : counted["steps"][0]["fieldChanges"]) {
    if (change["field"] != "description") continue;
    CHECK(change["after"] == "a gateway");
    CHECK(change["op"] == "set");
    described += change["devices"].get<std::int64_t>();
  }
  CHECK(described == count_where(f.fleet(), "gateway"));
}

TEST_CASE("the preview for people names every step, its devices, requests and changes", "[preview]")
{
  FakeRun f(k_plan, 200);
  const std::string run = f.preview();
  const std::string text = render_preview(preview_facts(*f.store, f.plan, run));
  CHECK_THAT(text, Catch::Contains("1. label: patch gateways"));
  CHECK_THAT(text, Catch::Contains("2. ping: send_command all, 200 devices in 1 request"));
  CHECK_THAT(text, Catch::Contains("description: (none) -> \"a gateway\"") || Catch::Contains("-> \"a gateway\""));
  CHECK_THAT(text, Catch::Contains("removed data cannot be restored"));
  CHECK_THAT(text, Catch::Contains("command ping payload {\"n\":1} to 200 devices (effectively_once)"));
  CHECK_THAT(text, Catch::Contains("create: new-1, new-2"));
}

TEST_CASE("the JSON preview streams every device id and each patched device's changes", "[preview]")
{
  FakeRun f(k_plan, 150);
  const std::string run = f.preview();
  json facts = preview_facts(*f.store, f.plan, run);
  std::ostringstream out;
  write_preview_json(out, facts, *f.store, f.plan, run);
  const json streamed = json::parse(out.str());
  CHECK(streamed["steps"][1]["deviceIds"].size() == 150);
  const auto& changes = streamed["steps"][0]["deviceChanges"];
  CHECK(static_cast<std::int64_t>(changes.size()) == count_where(f.fleet(), "gateway"));
  for (const auto& device : changes) {
    CHECK(device["id"].is_string());
    CHECK_FALSE(device["changes"].empty());
  }
}

TEST_CASE("the preview ends with totals by action, marks destructive steps and shows shares of the fleet", "[preview]")
{
  FakeRun f(k_plan, 200);
  const std::string run = f.preview();
  json facts = preview_facts(*f.store, f.plan, run);
  const std::int64_t gateways = count_where(f.fleet(), "gateway");
  std::string text = render_preview(facts);
  // k_plan: a patch of the gateways, a command to all 200, data removed from the gateways, two devices created.
  const std::string g = std::to_string(gateways);
  CHECK_THAT(text, Catch::EndsWith("Plan: data removed from " + g + " devices, 200 commands, " + g +
                                   " devices changed by patches, 2 devices created; " +
                                   std::to_string(facts["steps"][0]["requests"].get<int>() + 4) + " requests\n"));
  CHECK_THAT(text, Catch::Contains("3. purge: remove_data gateways, " + g + " devices in 1 request  [destructive]"));
  facts["fleetDevices"] = 400;
  text = render_preview(facts);
  CHECK_THAT(text, Catch::Contains("2. ping: send_command all, 200 devices (50.0 % of 400) in 1 request\n"));
  CHECK_THAT(preview_totals(facts), Catch::Contains("200 commands (50.0 % of 400)"));
}

TEST_CASE("a large destructive apply asks for the device count, a small one for yes", "[preview]")
{
  const auto facts_with = [](const char* action, std::int64_t devices, std::optional<std::int64_t> fleet) {
    json facts = {{"steps", json::array({{{"action", action}, {"devices", devices}, {"requests", 1}}})}};
    if (fleet) facts["fleetDevices"] = *fleet;
    return facts;
  };
  CHECK(confirmation_phrase(facts_with("delete", 1000, std::nullopt)) == "yes");
  CHECK(confirmation_phrase(facts_with("delete", 1001, std::nullopt)) == "1001");
  CHECK(confirmation_phrase(facts_with("send_command", 27760, 200000)) == "27760");
  CHECK(confirmation_phrase(facts_with("delete", 11, 100)) == "11"); // over 10 % of a known fleet
  CHECK(confirmation_phrase(facts_with("delete", 10, 100)) == "yes");
  CHECK(confirmation_phrase(facts_with("patch", 50000, 100000)) == "yes"); // a patch is not destructive
}
