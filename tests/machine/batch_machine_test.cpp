// The batch state machine alone: every row of the resume table
// (docs/STATE.md), every kind of answer, and the limits that make every path
// end. No I/O: events in, effects out.
#include "machine/batch_machine.hpp"

#include "losant/time_format.hpp"
#include "plans/plan_parser.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun;
using namespace fleetrun::machine;
using state::BatchStatus;
using std::chrono::milliseconds;

namespace {

const std::vector<std::string> k_ids = {"5f0000000000000000000001", "5f0000000000000000000002",
                                        "5f0000000000000000000003"};

plans::Step step_of(plans::ActionKind action, json params,
                    plans::CommandDelivery delivery = plans::CommandDelivery::effectively_once)
{
  plans::Step step;
  step.id = "s";
  step.action = action;
  step.query = "q";
  step.delivery = delivery;
  step.set_params(params);
  return step;
}

struct Fixture {
  explicit Fixture(plans::Step plan_step, BatchStatus status = BatchStatus::planned, int max_attempts = 3)
      : step(std::move(plan_step)), kind(jobs::make_step_kind(step))
  {
    policy.backoff.max_attempts = max_attempts;
    policy.run_id = "r-1";
    policy.step_id = "s";
    policy.batch_count = 1;
    const std::vector<std::string> items =
        step.action == plans::ActionKind::create ? std::vector<std::string>{"0"} : k_ids;
    const jobs::Request request = kind->build(items, {"r-1", 1'790'000'000'123});
    stored.device_ids = items;
    stored.method = request.method;
    stored.path = request.path;
    stored.body = request.body.value_or("");
    stored.hash = request_hash(stored.method, stored.path, stored.body);
    state::BatchRecord record;
    record.run_id = "r-1";
    record.status = status;
    record.device_count = static_cast<std::int64_t>(items.size());
    record.sent_ms = at.wall_ms;
    machine = std::make_unique<BatchMachine>(record, *kind, policy);
    allowance.rng.seed(7);
  }

  // Dispatches the first scheduled want and answers it with `result`.
  Effects answer(const Want& want, const api::ApiResult& result)
  {
    const auto dispatched =
        machine->dispatch(want, BatchMachine::needs_stored_request(want.purpose) ? &stored : nullptr, at);
    last_request = dispatched.request;
    return machine->on_answer(want, result, at, allowance);
  }

  plans::Step step;
  std::unique_ptr<jobs::StepKind> kind;
  MachinePolicy policy;
  StoredRequest stored;
  std::unique_ptr<BatchMachine> machine;
  RunAllowance allowance;
  Moment at{SteadyTime{std::chrono::hours(1)}, 1'790'000'000'000};
  api::RequestSpec last_request;
};

api::ApiResult ok(int status, std::string body)
{
  return api::ApiResponse{status, std::move(body), milliseconds(3), {}};
}

api::ApiResult failure(int status, std::optional<double> retry_after = std::nullopt)
{
  api::HttpResponse http{status, R"({"type":"X","message":"m"})", {}};
  if (retry_after) http.headers.emplace_back("Retry-After", std::to_string(*retry_after));
  return std::unexpected(api::error_from_response(http));
}

api::ApiResult lost()
{
  return std::unexpected(api::ApiError{api::ErrorKind::transient, api::Delivery::maybe_sent, 0, "", "lost", {}, {}});
}

bool has_event(const Effects& effects, const std::string& kind)
{
  return std::any_of(effects.notes.begin(), effects.notes.end(), [&](const Note& n) { return n.event == kind; });
}

const json k_patch = {{"updateFields", {{"description", "x"}}}};
const json k_command = {{"name", "reboot"}, {"payload", {{"n", 1}}}};

std::string history_with(std::int64_t time_ms, const std::string& name)
{
  return json::array({{{"name", name}, {"time", losant::format_iso8601_ms(time_ms)}}}).dump();
}

} // namespace

// ---- the resume table --------------------------------------------------------------

TEST_CASE("a planned batch is sent at once, a retry_wait batch when its backoff ends", "[batch_machine]")
{
  Fixture planned(step_of(plans::ActionKind::patch, k_patch));
  const Effects now = planned.machine->start(planned.at);
  REQUIRE(now.schedule.size() == 1);
  CHECK(now.schedule[0].due == planned.at.now);
  CHECK(now.schedule[0].want.purpose == Purpose::send);

  state::BatchRecord waiting;
  waiting.status = BatchStatus::retry_wait;
  waiting.next_attempt_ms = planned.at.wall_ms + 1500;
  BatchMachine machine(waiting, *planned.kind, planned.policy);
  const Effects later = machine.start(planned.at);
  REQUIRE(later.schedule.size() == 1);
  CHECK(later.schedule[0].due == planned.at.now + milliseconds(1500));
}

TEST_CASE("done and failed batches are never sent again", "[batch_machine]")
{
  for (const auto status : {BatchStatus::done, BatchStatus::failed}) {
    Fixture f(step_of(plans::ActionKind::send_command, k_command), status);
    const Effects effects = f.machine->start(f.at);
    CHECK(effects.schedule.empty());
    CHECK_FALSE(effects.needs_stored_request);
    CHECK(f.machine->is_final());
  }
}

TEST_CASE("an enqueued batch is followed by polling its job, never re-sent", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
  const Effects effects = f.machine->start(f.at);
  REQUIRE(effects.schedule.size() == 1);
  CHECK(effects.schedule[0].want.purpose == Purpose::poll_job);
}

TEST_CASE("a batch in flight when the process died is re-sent for idempotent kinds once its hash is proven",
          "[batch_machine]")
{
  for (const auto& [action, params] :
       std::vector<std::pair<plans::ActionKind, json>>{{plans::ActionKind::patch, k_patch},
                                                       {plans::ActionKind::delete_devices, json::object()},
                                                       {plans::ActionKind::restore, json::object()},
                                                       {plans::ActionKind::remove_data, {{"attributes", {"t"}}}}}) {
    Fixture f(step_of(action, params), BatchStatus::sending);
    const Effects start = f.machine->start(f.at);
    CHECK(has_event(start, "batch_unknown"));
    REQUIRE(start.needs_stored_request);
    CHECK(start.schedule.empty()); // nothing leaves before the check
    const Effects checked = f.machine->on_stored_request(f.stored, f.at);
    CHECK(has_event(checked, "batch_resent"));
    REQUIRE(checked.schedule.size() == 1);
    CHECK(checked.schedule[0].want.purpose == Purpose::send);
  }
}

TEST_CASE("a stored request that the plan no longer builds halts the run instead of being re-sent", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch), BatchStatus::unknown);
  REQUIRE(f.machine->start(f.at).needs_stored_request);
  StoredRequest other = f.stored;
  other.hash = request_hash(other.method, other.path, R"({"updateFields":{"description":"y"}})");
  const Effects effects = f.machine->on_stored_request(other, f.at);
  CHECK(effects.halt == Halt::plan_changed);
  CHECK(effects.schedule.empty());
  CHECK_THAT(effects.halt_message, Catch::Contains("different request"));
}

TEST_CASE("an unknown export is reported, not repeated, unless the plan says resend", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::export_devices, {{"email", "ops@example.com"}}), BatchStatus::sending);
  const Effects effects = f.machine->start(f.at);
  CHECK(effects.schedule.empty());
  CHECK(effects.left_unfinished);
  CHECK(f.machine->record().status == BatchStatus::unknown);
  CHECK(has_event(effects, "batch_unknown"));

  plans::Step resend = step_of(plans::ActionKind::export_devices, {{"email", "ops@example.com"}});
  resend.resend_unknown_export = true;
  Fixture g(resend, BatchStatus::sending);
  CHECK(g.machine->start(g.at).needs_stored_request);
}

TEST_CASE("an unknown at_most_once command is reported, at_least_once is re-sent", "[batch_machine]")
{
  Fixture most(step_of(plans::ActionKind::send_command, k_command, plans::CommandDelivery::at_most_once),
               BatchStatus::unknown);
  const Effects reported = most.machine->start(most.at);
  CHECK(reported.left_unfinished);
  CHECK(reported.schedule.empty());

  Fixture least(step_of(plans::ActionKind::send_command, k_command, plans::CommandDelivery::at_least_once),
                BatchStatus::unknown);
  REQUIRE(least.machine->start(least.at).needs_stored_request);
  CHECK(least.machine->on_stored_request(least.stored, least.at).schedule.at(0).want.purpose == Purpose::send);
}

TEST_CASE("an unknown command is reconciled: each device's history read, the batch narrowed to the devices without it",
          "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::send_command, k_command), BatchStatus::sending);
  const Effects start = f.machine->start(f.at);
  CHECK(f.machine->record().status == BatchStatus::unknown);
  REQUIRE(start.needs_stored_request);
  const Effects reads = f.machine->on_stored_request(f.stored, f.at);
  REQUIRE(reads.schedule.size() == 3);
  for (const auto& s : reads.schedule) CHECK(s.want.purpose == Purpose::read_history);

  const std::int64_t time = json::parse(f.stored.body)["time"];
  // Device 1 has the command, device 2 has another one, device 3 is gone.
  CHECK(f.answer(reads.schedule[0].want, ok(200, history_with(time, "reboot"))).schedule.empty());
  CHECK(f.last_request.path == "/devices/" + k_ids[0] + "/command");
  CHECK(f.answer(reads.schedule[1].want, ok(200, history_with(time, "other"))).schedule.empty());
  const Effects narrowed = f.answer(reads.schedule[2].want, failure(404));
  REQUIRE(narrowed.replace_request);
  CHECK(narrowed.replace_request->device_ids == std::vector<std::string>{k_ids[1]});
  CHECK(json::parse(narrowed.replace_request->body)["time"] == time); // the same deterministic time
  CHECK(f.machine->record().status == BatchStatus::planned);
  CHECK(has_event(narrowed, "batch_reconciled"));
  REQUIRE(narrowed.schedule.size() == 1);

  StoredRequest narrowed_request = *narrowed.replace_request;
  f.stored = narrowed_request;
  const Effects sent = f.answer(narrowed.schedule[0].want, ok(200, R"({"success":true})"));
  CHECK(f.machine->record().status == BatchStatus::done);
  CHECK(json::parse(f.machine->record().outcome_json)["reconciled"] == true);
  CHECK(f.allowance.counters.reconciled_devices == 2);
}

TEST_CASE("a reconciled command that every device already has is done without a request", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::send_command, k_command), BatchStatus::unknown);
  f.machine->start(f.at);
  const Effects reads = f.machine->on_stored_request(f.stored, f.at);
  const std::int64_t time = json::parse(f.stored.body)["time"];
  Effects last;
  for (const auto& s : reads.schedule) last = f.answer(s.want, ok(200, history_with(time, "reboot")));
  CHECK(f.machine->record().status == BatchStatus::done);
  CHECK_FALSE(last.replace_request);
  CHECK(last.schedule.empty());
}

TEST_CASE("an unknown create looks the device up by name and marker before creating it again", "[batch_machine]")
{
  const json create = {{"devices", json::array({{{"name", "gw-1"}, {"deviceClass", "gateway"}}})}};
  Fixture found(step_of(plans::ActionKind::create, create), BatchStatus::sending);
  const Effects start = found.machine->start(found.at);
  REQUIRE(start.schedule.size() == 1);
  REQUIRE(start.schedule[0].want.purpose == Purpose::look_up_created);
  found.answer(start.schedule[0].want, ok(200, R"({"items":[{"id":"5f00000000000000000000aa"}],"totalCount":1})"));
  const json query =
      json::parse(std::find_if(found.last_request.params.begin(), found.last_request.params.end(), [](const auto& p) {
                    return p.first == "query";
                  })->second);
  CHECK(query == json{{"name", "gw-1"}, {"tags", {{"fleetrun_run", "r-1"}}}});
  CHECK(found.machine->record().status == BatchStatus::done);

  Fixture missing(step_of(plans::ActionKind::create, create), BatchStatus::sending);
  const Effects lookup = missing.machine->start(missing.at);
  const Effects again = missing.answer(lookup.schedule[0].want, ok(200, R"({"items":[],"totalCount":0})"));
  CHECK(has_event(again, "batch_resent"));
  REQUIRE(again.schedule.size() == 1);
  CHECK(again.schedule[0].want.purpose == Purpose::send);
}

// ---- sending and answers ---------------------------------------------------------------

TEST_CASE("dispatching a send is the intent: sending, one more attempt, the stored request", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch));
  const Dispatch dispatch = f.machine->dispatch({Purpose::send}, &f.stored, f.at);
  CHECK(dispatch.effects.persist);
  CHECK(f.machine->record().status == BatchStatus::sending);
  CHECK(f.machine->record().attempts == 1);
  CHECK(dispatch.request.method == "PATCH");
  CHECK(dispatch.request.body == f.stored.body);
}

TEST_CASE("a 200 finishes the batch with the answer's counts", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()));
  f.answer({Purpose::send}, ok(200, R"({"removed":2,"failed":1})"));
  CHECK(f.machine->record().status == BatchStatus::done);
  CHECK(json::parse(f.machine->record().outcome_json) == json{{"removed", 2}, {"failed", 1}});
  CHECK(f.machine->failed_devices() == 1);
}

TEST_CASE("a 202 enqueues the batch and its job is polled to the end", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()));
  const Effects enqueued = f.answer({Purpose::send}, ok(202, R"({"jobQueued":true,"jobId":"abc","success":true})"));
  CHECK(f.machine->record().status == BatchStatus::enqueued);
  CHECK(f.machine->record().job_id == "abc");
  CHECK(f.allowance.counters.jobs_followed == 1);
  REQUIRE(enqueued.schedule.size() == 1);
  CHECK(enqueued.schedule[0].want.purpose == Purpose::poll_job);
  CHECK(enqueued.schedule[0].due > f.at.now);

  const Effects running =
      f.answer({Purpose::poll_job}, ok(200, R"({"status":"inProgress","progress":{"completed":1,"total":3}})"));
  CHECK(f.last_request.path == "/jobLogs/abc");
  CHECK(f.machine->record().job_progress == "1/3");
  REQUIRE(running.schedule.size() == 1);
  f.answer({Purpose::poll_job}, ok(200, R"({"status":"completed","output":{"removed":3,"failed":0}})"));
  CHECK(f.machine->record().status == BatchStatus::done);
  CHECK(json::parse(f.machine->record().outcome_json)["removed"] == 3);
}

TEST_CASE("a job errored part-way fails its batch but counts only the devices it did not do", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
  state::BatchRecord record = f.machine->record();
  record.device_count = 1437;
  record.job_id = "j";
  f.machine = std::make_unique<BatchMachine>(record, *f.kind, f.policy);
  f.answer({Purpose::poll_job}, ok(200, R"({"status":"errored","output":{"removed":815,"failed":622},
                                           "error":{"name":"E","message":"half way"}})"));
  CHECK(f.machine->record().status == BatchStatus::failed);
  CHECK(f.machine->failed_devices() == 622);
}

TEST_CASE("a job that ends errored or failed fails its batch with the job's error", "[batch_machine]")
{
  for (const std::string status : {"errored", "failed"}) {
    Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
    f.machine->start(f.at);
    f.answer({Purpose::poll_job},
             ok(200, json{{"status", status}, {"error", {{"name", "Boom"}, {"message", "no"}}}}.dump()));
    CHECK(f.machine->record().status == BatchStatus::failed);
    CHECK_THAT(f.machine->record().error, Catch::Contains("Boom: no"));
  }
}

TEST_CASE("a job id the job log does not take is found by listing the job logs", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
  state::BatchRecord record = f.machine->record();
  record.job_id = "short1";
  f.machine = std::make_unique<BatchMachine>(record, *f.kind, f.policy);
  const Effects missing = f.answer({Purpose::poll_job}, failure(404));
  REQUIRE(missing.schedule.at(0).want.purpose == Purpose::list_jobs);
  const Effects second_page = f.answer(missing.schedule[0].want, ok(200, R"({"items":[],"totalCount":150})"));
  REQUIRE(second_page.schedule.at(0).want.page == 1);
  f.answer(second_page.schedule[0].want,
           ok(200, R"({"items":[{"id":"5f00000000000000000000b1","jobId":"short1","status":"inProgress"}]})"));
  const Effects polled =
      f.machine->on_answer({Purpose::poll_job}, ok(200, R"({"status":"queued"})"), f.at, f.allowance);
  CHECK(f.machine->dispatch({Purpose::poll_job}, nullptr, f.at).request.path == "/jobLogs/5f00000000000000000000b1");
  CHECK_FALSE(polled.schedule.empty());
}

TEST_CASE("a job in no job log is looked for a few times, then the devices are checked instead", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch), BatchStatus::enqueued);
  Effects effects;
  for (int i = 0; i <= f.policy.job_lookups; ++i) {
    f.answer({Purpose::poll_job}, failure(404));
    effects = f.answer({Purpose::list_jobs, 0}, ok(200, R"({"items":[],"totalCount":0})"));
  }
  CHECK(has_event(effects, "job_not_found"));
  CHECK(effects.needs_stored_request); // patch: re-sent after the hash check
}

TEST_CASE("a job still running after the step's job timeout is left for resume", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
  f.at.wall_ms += 601'000;
  const Effects effects = f.answer({Purpose::poll_job}, ok(200, R"({"status":"inProgress"})"));
  CHECK(effects.left_unfinished);
  CHECK(effects.schedule.empty());
  CHECK(has_event(effects, "job_timeout"));
  CHECK(f.machine->record().status == BatchStatus::enqueued);
}

TEST_CASE("an unreadable job log is a failed poll, retried and then given up", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued, 2);
  const Effects first = f.answer({Purpose::poll_job}, ok(200, "<html>oops</html>"));
  REQUIRE(first.schedule.size() == 1);
  const Effects second = f.answer({Purpose::poll_job}, ok(200, "[1,2]"));
  CHECK(second.schedule.empty());
  CHECK(second.left_unfinished);
  CHECK_THAT(f.machine->record().error, Catch::Contains("not a JSON object"));
}

// ---- retries and their limits --------------------------------------------------------------

TEST_CASE("a 429 waits at least its Retry-After and uses up neither attempts nor the retry budget", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch), BatchStatus::planned, 1);
  f.allowance.retries_left = 0;
  for (int i = 0; i < 5; ++i) {
    const Effects effects = f.answer({Purpose::send}, failure(429, 2.0));
    REQUIRE(effects.schedule.size() == 1);
    CHECK(effects.schedule[0].due >= f.at.now + milliseconds(2000));
    CHECK(f.machine->record().status == BatchStatus::retry_wait);
  }
  CHECK(f.allowance.retries_left == 0);
  f.answer({Purpose::send}, ok(200, R"({"updated":3})"));
  CHECK(f.machine->record().status == BatchStatus::done);
}

TEST_CASE("503s are retried with backoff until the batch's attempts are used up", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch), BatchStatus::planned, 3);
  CHECK(f.answer({Purpose::send}, failure(503)).schedule.size() == 1);
  CHECK(f.answer({Purpose::send}, failure(503)).schedule.size() == 1);
  const Effects last = f.answer({Purpose::send}, failure(503));
  CHECK(last.schedule.empty());
  CHECK(f.machine->record().status == BatchStatus::failed);
  CHECK_THAT(f.machine->record().error, Catch::Contains("gave up after 3"));
  CHECK(f.allowance.retries_left == 498);
  CHECK(f.machine->failed_devices() == 3);
}

TEST_CASE("an empty retry budget fails the batch at its first transient error", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch));
  f.allowance.retries_left = 0;
  f.answer({Purpose::send}, failure(502));
  CHECK(f.machine->record().status == BatchStatus::failed);
  CHECK_THAT(f.machine->record().error, Catch::Contains("retry budget"));
}

TEST_CASE("a 4xx fails the batch with the server's message, a 401 halts the run", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch));
  f.answer({Purpose::send}, failure(400));
  CHECK(f.machine->record().status == BatchStatus::failed);
  CHECK_THAT(f.machine->record().error, Catch::Contains("HTTP 400 X: m"));

  Fixture g(step_of(plans::ActionKind::patch, k_patch));
  const Effects refused = g.answer({Purpose::send}, failure(401));
  CHECK(refused.halt == Halt::auth_failed);
  CHECK(g.machine->record().status == BatchStatus::planned); // refused at the door: nothing applied
}

TEST_CASE("a lost connection re-sends an idempotent batch as a counted attempt", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::patch, k_patch), BatchStatus::planned, 2);
  CHECK(f.answer({Purpose::send}, lost()).schedule.size() == 1);
  f.answer({Purpose::send}, lost());
  CHECK(f.machine->record().status == BatchStatus::failed);
}

TEST_CASE("a command whose connection is lost every time ends after its attempts, reconciled each time",
          "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::send_command, k_command), BatchStatus::planned, 3);
  int sends = 0;
  for (int round = 0; round < 10 && !f.machine->is_final(); ++round) {
    ++sends;
    const Effects effects = f.answer({Purpose::send}, lost());
    REQUIRE(effects.needs_stored_request);
    Effects reads = f.machine->on_stored_request(f.stored, f.at);
    Effects last;
    for (const auto& s : reads.schedule) last = f.answer(s.want, ok(200, "[]")); // nobody got it
    if (last.replace_request) f.stored = *last.replace_request;
  }
  CHECK(sends == 3);
  CHECK(f.machine->record().status == BatchStatus::failed);
  CHECK_THAT(f.machine->record().error, Catch::Contains("do not have the command"));
}

TEST_CASE("a history read that keeps failing leaves the batch unknown for resume, not sent", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::send_command, k_command), BatchStatus::unknown, 2);
  f.machine->start(f.at);
  const Effects reads = f.machine->on_stored_request(f.stored, f.at);
  const Want want = reads.schedule[0].want;
  CHECK(f.answer(want, failure(500)).schedule.size() == 1);
  const Effects given_up = f.answer(want, failure(500));
  CHECK(given_up.left_unfinished);
  CHECK(f.machine->record().status == BatchStatus::unknown);
  CHECK_THAT(f.machine->record().error, Catch::Contains("command history read"));
}

TEST_CASE("follow-up requests have attempts of their own, reset by a success", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued, 2);
  for (int i = 0; i < 5; ++i) {
    CHECK(f.answer({Purpose::poll_job}, failure(503)).schedule.size() == 1);
    CHECK(f.answer({Purpose::poll_job}, ok(200, R"({"status":"inProgress"})")).schedule.size() == 1);
  }
  CHECK_FALSE(f.machine->is_final());
}

TEST_CASE("a running job is polled when its reported pace says it will be done, within bounds", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
  f.at.wall_ms += 9'000; // nine seconds since the batch was sent
  const Effects nearly =
      f.answer({Purpose::poll_job}, ok(200, R"({"status":"inProgress","progress":{"completed":90,"total":100}})"));
  REQUIRE(nearly.schedule.size() == 1);
  CHECK(nearly.schedule[0].due == f.at.now + milliseconds(1050)); // ten more devices at 100 ms each, and a little
  const Effects slow =
      f.answer({Purpose::poll_job}, ok(200, R"({"status":"inProgress","progress":{"completed":1,"total":100}})"));
  CHECK(slow.schedule[0].due == f.at.now + f.policy.job_poll_max); // far off: at most job_poll_max away
  f.at.wall_ms += 200'000;
  const Effects no_progress = f.answer({Purpose::poll_job}, ok(200, R"({"status":"queued"})"));
  CHECK(no_progress.schedule[0].due == f.at.now + f.policy.job_poll_max);
}

TEST_CASE("a short job is polled soon, then less and less often", "[batch_machine]")
{
  Fixture f(step_of(plans::ActionKind::delete_devices, json::object()), BatchStatus::enqueued);
  std::vector<milliseconds> intervals;
  for (int i = 0; i < 8; ++i) {
    const Effects effects = f.answer({Purpose::poll_job}, ok(200, R"({"status":"queued"})"));
    intervals.push_back(std::chrono::duration_cast<milliseconds>(effects.schedule.at(0).due - f.at.now));
  }
  CHECK(intervals.front() >= f.policy.job_poll_first);
  CHECK(std::is_sorted(intervals.begin(), intervals.end()));
  CHECK(intervals.back() == f.policy.job_poll_max);
}
