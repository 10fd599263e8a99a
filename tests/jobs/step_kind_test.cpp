#include "jobs/step_kind.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun;

namespace {

plans::Step step(plans::ActionKind action, json params)
{
  plans::Step s;
  s.id = "s";
  s.action = action;
  s.query = "q";
  s.set_params(params);
  return s;
}

std::vector<std::string> ids(std::size_t n)
{
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    char id[25];
    std::snprintf(id, sizeof id, "%024zx", i);
    out.emplace_back(id);
  }
  return out;
}

} // namespace

TEST_CASE("pinned queries use one $in up to 100 ids and $or of $in clauses beyond", "[step_kind]")
{
  CHECK(jobs::pinned_query(ids(2)) == json{{"id", {{"$in", ids(2)}}}});
  const json big = jobs::pinned_query(ids(250));
  REQUIRE(big["$or"].size() == 3);
  CHECK(big["$or"][0]["id"]["$in"].size() == 100);
  CHECK(big["$or"][2]["id"]["$in"].size() == 50);
  CHECK(jobs::pinned_query(ids(10'000))["$or"].size() == 100);
}

TEST_CASE("patch sends deviceIds with the plan's operations", "[step_kind]")
{
  const auto kind = jobs::make_step_kind(step(plans::ActionKind::patch, {{"updateFields", {{"description", "x"}}}}));
  CHECK(kind->max_batch_size() == 1000);
  const auto request = kind->build(ids(2), {});
  CHECK(request.method == "PATCH");
  CHECK(request.path == "/devices");
  CHECK(json::parse(*request.body) == json{{"deviceIds", ids(2)}, {"updateFields", {{"description", "x"}}}});
  CHECK(kind->on_unknown() == jobs::OnUnknown::resend);
  CHECK(jobs::failed_devices_of(json{{"updated", 3}, {"failed", 2}}, 5, false) == 2);
}

TEST_CASE("delete, restore, remove_data and export pin ids into the query", "[step_kind]")
{
  const struct {
    plans::ActionKind action;
    const char* path;
    jobs::OnUnknown unknown;
  } cases[] = {{plans::ActionKind::delete_devices, "/devices/delete", jobs::OnUnknown::resend},
               {plans::ActionKind::restore, "/devices/restore", jobs::OnUnknown::resend},
               {plans::ActionKind::remove_data, "/devices/removeData", jobs::OnUnknown::resend},
               {plans::ActionKind::export_devices, "/devices/export", jobs::OnUnknown::report}};
  for (const auto& c : cases) {
    const auto kind = jobs::make_step_kind(step(c.action, {{"email", "ops@example.com"}}));
    CHECK(kind->max_batch_size() == 10'000);
    const auto request = kind->build(ids(3), {});
    CHECK(request.method == "POST");
    CHECK(request.path == c.path);
    CHECK(json::parse(*request.body) == json{{"email", "ops@example.com"}, {"query", {{"id", {{"$in", ids(3)}}}}}});
    CHECK(kind->on_unknown() == c.unknown);
  }
  plans::Step resend = step(plans::ActionKind::export_devices, json::object());
  resend.resend_unknown_export = true;
  CHECK(jobs::make_step_kind(resend)->on_unknown() == jobs::OnUnknown::resend);
}

TEST_CASE("send_command carries the batch's deterministic time, delivery picks what resume does", "[step_kind]")
{
  plans::Step command = step(plans::ActionKind::send_command, {{"name", "reboot"}, {"payload", {{"a", 1}}}});
  const auto kind = jobs::make_step_kind(command);
  const auto request = kind->build(ids(1), {"r-1", 1'790'000'000'007});
  CHECK(json::parse(*request.body) ==
        json{{"name", "reboot"}, {"payload", {{"a", 1}}}, {"time", 1'790'000'000'007}, {"deviceIds", ids(1)}});
  CHECK(kind->on_unknown() == jobs::OnUnknown::reconcile_commands);
  CHECK(kind->outcome(json{{"success", true}}, 7)["sent"] == 7);
  command.delivery = plans::CommandDelivery::at_most_once;
  CHECK(jobs::make_step_kind(command)->on_unknown() == jobs::OnUnknown::report);
  command.delivery = plans::CommandDelivery::at_least_once;
  CHECK(jobs::make_step_kind(command)->on_unknown() == jobs::OnUnknown::resend);
}

TEST_CASE("create posts one device with the run's marker tag", "[step_kind]")
{
  const auto kind = jobs::make_step_kind(
      step(plans::ActionKind::create,
           {{"devices", {{{"name", "a"}}, {{"name", "b"}, {"tags", {{{"key", "k"}, {"value", "v"}}}}}}}}));
  CHECK_FALSE(kind->uses_devices());
  CHECK(kind->max_batch_size() == 1);
  const auto request = kind->build({"1"}, {"r-7", 0});
  CHECK(request.path == "/devices");
  CHECK(json::parse(*request.body) ==
        json{{"name", "b"}, {"tags", {{{"key", "k"}, {"value", "v"}}, {{"key", "fleetrun_run"}, {"value", "r-7"}}}}});
  CHECK(kind->on_unknown() == jobs::OnUnknown::reconcile_creates);
  CHECK(kind->outcome(json{{"id", "abc"}}, 1) == json{{"created", 1}, {"deviceId", "abc"}});
}

TEST_CASE("failed devices come from the counts: a job errored part-way failed only what it did not do", "[step_kind]")
{
  using jobs::failed_devices_of;
  // A table of outcomes: (outcome, devices, batch failed) -> failed devices.
  CHECK(failed_devices_of(json{{"updated", 815}, {"failed", 622}}, 1437, true) == 622);
  CHECK(failed_devices_of(json{{"updated", 815}, {"failed", 0}}, 1437, true) == 622); // the rest was never done
  CHECK(failed_devices_of(json::object(), 1437, true) == 1437);                       // no counts: all of it
  CHECK(failed_devices_of(nullptr, 10, true) == 10);
  CHECK(failed_devices_of(json{{"removed", 9}, {"failed", 1}}, 10, false) == 1);
  CHECK(failed_devices_of(json{{"sent", 10}}, 10, false) == 0);
  CHECK(failed_devices_of(json{{"failed", 99}}, 10, false) == 10); // the server's word, within the batch
  CHECK(failed_devices_of(json{{"failed", -5}, {"updated", -1}}, 10, false) == 0);
  CHECK(failed_devices_of(json{{"updated", 50}}, 10, true) == 0);
}
