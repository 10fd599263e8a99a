#include "runner/coordinator.hpp"

#include "runner/rate_limiter.hpp"
#include "runner/worker_pool.hpp"

#include "jobs/job_log.hpp"
#include "jobs/step_kind.hpp"
#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

namespace fleetrun::runner {

using nlohmann::json;
using state::BatchRecord;
using state::BatchStatus;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t wall_ms()
{
  return losant::now_epoch_ms();
}

std::string request_hash(const std::string& method, const std::string& path, const std::string& body)
{
  return plans::sha256_hex(method + "\n" + path + "\n" + body);
}

std::vector<std::string> ids_of(const BatchRecord& batch)
{
  return json::parse(batch.device_ids_json).get<std::vector<std::string>>();
}

// Work waiting for its time: a batch to send, a job to poll, a device's
// command history to read, a created device to look up.
struct Pending {
  Pending(Task::Kind what, int batch_index, int list_page = 0, std::string device = {})
      : kind(what), batch(batch_index), page(list_page), device_id(std::move(device))
  {
  }
  Task::Kind kind;
  int batch;
  int page;
  std::string device_id;
};

struct Reconciliation {
  std::size_t remaining = 0;
  std::vector<std::string> missing;
  std::string command_name;
  std::int64_t command_time = 0;
};

class StepRunner {
public:
  StepRunner(state::StateStore& store, const plans::Plan& plan, const std::string& run_id, state::StepRecord& step,
             WorkerPool& pool, RateLimiter& limiter, const ExecutionOptions& options, RunCounters& counters,
             int& retries_used, const std::atomic<bool>& stop_requested, std::mt19937_64& rng)
      : m_store(store), m_plan(plan), m_run_id(run_id), m_step(step),
        m_plan_step(plan.steps.at(static_cast<std::size_t>(step.index))), m_kind(jobs::make_step_kind(m_plan_step)),
        m_pool(pool), m_limiter(limiter), m_options(options), m_counters(counters), m_retries_used(retries_used),
        m_stop(stop_requested), m_rng(rng)
  {
  }

  // Runs the step until every batch is final or something stops it.
  RunResult run()
  {
    if (m_step.status == state::StepStatus::pending) plan_batches();
    // The batches' progress stays in memory, their requests (ids and bodies)
    // in the state file until they are sent: memory does not grow with the fleet.
    for (auto& batch : m_store.batches(m_run_id, m_step.index, false)) {
      m_failed_devices += failed_in(batch);
      m_batches.emplace(batch.batch_index, std::move(batch));
    }
    for (auto& [index, batch] : m_batches) classify(batch);
    if (m_fatal.outcome != RunOutcome::completed) return m_fatal;
    loop();
    finish_step();
    return m_fatal;
  }

  bool stopped_early() const { return m_stopping || m_aborting; }

private:
  // ---- planning ----------------------------------------------------------

  void plan_batches()
  {
    const auto started = Clock::now();
    const int size = m_plan_step.batch_size.value_or(m_kind->max_batch_size());
    // The whole plan of the step is one transaction: a crash leaves either no
    // batches (and the step pending) or all of them. Batches are written as
    // the device list is read, so no more than one is held in memory.
    auto transaction = m_store.transaction();
    const std::int64_t base_time = wall_ms();
    std::int64_t devices = 0;
    int batches = 0;
    const auto add_batch = [&](const std::vector<std::string>& ids) {
      jobs::BatchContext context{m_run_id, base_time + batches};
      const jobs::Request request = m_kind->build(ids, context);
      BatchRecord batch;
      batch.run_id = m_run_id;
      batch.step_index = m_step.index;
      batch.batch_index = batches++;
      batch.status = BatchStatus::planned;
      batch.device_ids_json = json(ids).dump();
      batch.device_count = static_cast<std::int64_t>(ids.size());
      batch.method = request.method;
      batch.path = request.path;
      batch.body = request.body;
      batch.request_hash = request_hash(request.method, request.path, request.body);
      m_store.insert_batch(batch);
      devices += batch.device_count;
    };
    if (m_kind->uses_devices()) {
      std::vector<std::string> group;
      m_store.for_each_device(m_step.snapshot_run_id, m_step.query_name, false,
                              [&](const std::string& id, const std::string&) {
                                group.push_back(id);
                                if (static_cast<int>(group.size()) == size) add_batch(std::exchange(group, {}));
                              });
      if (!group.empty()) add_batch(group);
    } else {
      const auto listed = json::parse(m_plan_step.params_json).value("devices", json::array());
      for (std::size_t i = 0; i < listed.size(); ++i) add_batch({std::to_string(i)});
    }
    m_step.status = state::StepStatus::running;
    m_step.device_count = devices;
    m_step.batch_count = batches;
    m_step.started_ms = wall_ms();
    m_store.update_step(m_step);
    m_store.add_event(m_run_id, "step_started",
                      "step " + m_step.step_id + ": " + std::to_string(devices) + " devices in " +
                          std::to_string(batches) + " batches");
    transaction.commit();
    spdlog::debug("step {}: {} batches planned in {} ms", m_step.step_id, batches,
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  }

  // The request a batch would carry if built now, to prove a stored request
  // is still what the plan means before sending it again.
  bool request_unchanged(const BatchRecord& batch)
  {
    const BatchRecord stored = with_request(batch);
    jobs::BatchContext context{m_run_id, 0};
    if (m_plan_step.action == plans::ActionKind::send_command) {
      context.command_time_ms = json::parse(stored.body).value("time", std::int64_t{0});
    }
    const jobs::Request request = m_kind->build(ids_of(stored), context);
    return request_hash(request.method, request.path, request.body) == stored.request_hash;
  }

  // The batch with its request (device ids and body) read from the state file.
  BatchRecord with_request(const BatchRecord& batch) const
  {
    auto stored = m_store.batch(m_run_id, m_step.index, batch.batch_index);
    if (!stored) throw std::runtime_error(describe(batch) + " is missing from the state file");
    return std::move(*stored);
  }

  // What a batch's recorded state means when the step starts (or resumes).
  void classify(BatchRecord& batch)
  {
    const auto now = Clock::now();
    switch (batch.status) {
    case BatchStatus::planned: schedule(now, {Task::Kind::send, batch.batch_index}); break;
    case BatchStatus::retry_wait:
      schedule(now + std::chrono::milliseconds(std::max<std::int64_t>(0, batch.next_attempt_ms - wall_ms())),
               {Task::Kind::send, batch.batch_index});
      break;
    case BatchStatus::enqueued: schedule(now, {Task::Kind::poll_job, batch.batch_index}); break;
    case BatchStatus::sending:
      // The process stopped between committing intent and recording the outcome.
      m_store.add_event(m_run_id, "batch_unknown", describe(batch) + " was in flight when the run stopped");
      handle_unknown(batch, "in flight when the run stopped");
      break;
    case BatchStatus::unknown: handle_unknown(batch, batch.error.empty() ? "outcome unknown" : batch.error); break;
    case BatchStatus::done:
    case BatchStatus::failed: break;
    }
  }

  std::string describe(const BatchRecord& batch) const
  {
    return "step " + m_step.step_id + " batch " + std::to_string(batch.batch_index + 1) + "/" +
           std::to_string(m_step.batch_count);
  }

  void schedule(Clock::time_point due, Pending pending) { m_pending.emplace(due, std::move(pending)); }

  // ---- the loop ------------------------------------------------------------

  void loop()
  {
    auto next_heartbeat = Clock::now();
    Clock::time_point drain_until{};
    while (true) {
      auto now = Clock::now();
      if (m_stop.load() && !m_stopping) {
        m_stopping = true;
        drain_until = now + m_options.drain_deadline;
        m_store.add_event(m_run_id, "stop_requested",
                          "stop requested: no new requests; waiting for " + std::to_string(m_pool.in_flight()) +
                              " in flight");
      }
      Clock::time_point wake = now + std::chrono::seconds(1);
      if (!m_stopping && !m_aborting && m_fatal.outcome == RunOutcome::completed) wake = std::min(wake, dispatch(now));
      if (m_pool.in_flight() == 0 &&
          (m_stopping || m_aborting || m_pending.empty() || m_fatal.outcome != RunOutcome::completed)) {
        break;
      }
      if (m_stopping) {
        if (now >= drain_until) break;
        wake = std::min(wake, drain_until);
      }
      if (auto completion = m_pool.next(wake)) handle(*completion);
      now = Clock::now();
      if (now >= next_heartbeat) {
        m_store.heartbeat(m_run_id);
        if (std::abs(m_limiter.current_rate() - m_saved_rate) > 1e-9) {
          m_saved_rate = m_limiter.current_rate();
          m_store.set_learned_rate(m_run_id, m_saved_rate);
        }
        next_heartbeat = now + std::chrono::seconds(5);
      }
    }
  }

  // Sends what is due while slots and the rate allow; returns when to look again.
  Clock::time_point dispatch(Clock::time_point now)
  {
    while (m_pool.in_flight() < m_options.concurrency && !m_pending.empty()) {
      auto first = m_pending.begin();
      if (first->first > now) return first->first;
      Clock::duration wait{};
      if (!m_limiter.try_acquire(now, wait)) return now + wait;
      Pending pending = std::move(first->second);
      m_pending.erase(first);
      start(pending);
    }
    return now + std::chrono::seconds(1);
  }

  void start(const Pending& pending)
  {
    BatchRecord& batch = m_batches.at(pending.batch);
    Task task;
    task.kind = pending.kind;
    task.batch = pending.batch;
    task.page = pending.page;
    task.device_id = pending.device_id;
    switch (pending.kind) {
    case Task::Kind::send:
      // Intent first: committed before the first byte of the request leaves.
      batch.status = BatchStatus::sending;
      ++batch.attempts;
      batch.sent_ms = wall_ms();
      m_store.update_batch_progress(batch);
      task.method = batch.method;
      task.path = batch.path;
      task.body = with_request(batch).body;
      break;
    case Task::Kind::poll_job:
      task.method = "GET";
      task.path = "/jobLogs/" + (m_job_log_ids.contains(pending.batch) ? m_job_log_ids[pending.batch] : batch.job_id);
      break;
    case Task::Kind::list_jobs:
      task.method = "GET";
      task.path = "/jobLogs";
      task.params = {{"page", std::to_string(pending.page)}, {"perPage", "100"}, {"sortDirection", "desc"}};
      break;
    case Task::Kind::history: {
      const auto& reconciliation = m_reconciling.at(pending.batch);
      task.method = "GET";
      task.path = "/devices/" + pending.device_id + "/command";
      task.params = {{"limit", "100"},
                     {"start", std::to_string(reconciliation.command_time)},
                     {"end", std::to_string(reconciliation.command_time)},
                     {"sortDirection", "asc"}};
      break;
    }
    case Task::Kind::lookup_created: {
      const json device = json::parse(with_request(batch).body);
      const json query = {{"name", device.value("name", "")}, {"tags", {{jobs::k_marker_tag, m_run_id}}}};
      task.method = "GET";
      task.path = "/devices";
      task.params = {{"query", query.dump()}, {"perPage", "10"}};
      break;
    }
    }
    ++m_counters.requests;
    m_pool.submit(std::move(task));
  }

  // ---- completions ---------------------------------------------------------

  static std::string attempt_key(Task::Kind kind, int batch, const std::string& device_id, int page)
  {
    return std::to_string(static_cast<int>(kind)) + "/" + std::to_string(batch) + "/" + device_id + "/" +
           std::to_string(page);
  }

  void handle(const Completion& completion)
  {
    const auto& result = completion.result;
    if (result) {
      m_aux_attempts.erase(
          attempt_key(completion.task.kind, completion.task.batch, completion.task.device_id, completion.task.page));
      m_limiter.on_success(Clock::now());
    } else {
      count_error(result.error());
    }
    if (!result && result.error().kind == api::ErrorKind::auth) {
      auth_failure(completion);
      return;
    }
    switch (completion.task.kind) {
    case Task::Kind::send: on_sent(completion); break;
    case Task::Kind::poll_job: on_job_log(completion); break;
    case Task::Kind::list_jobs: on_job_list(completion); break;
    case Task::Kind::history: on_history(completion); break;
    case Task::Kind::lookup_created: on_lookup(completion); break;
    }
  }

  void count_error(const api::ApiError& error)
  {
    count_failure(m_counters, error);
    if (error.status == 429) m_limiter.on_throttled(Clock::now());
  }

  void auth_failure(const Completion& completion)
  {
    BatchRecord& batch = m_batches.at(completion.task.batch);
    if (completion.task.kind == Task::Kind::send) {
      batch.status = BatchStatus::planned; // refused at the door: nothing was applied
      batch.error = completion.result.error().describe();
      m_store.update_batch_progress(batch);
    }
    m_fatal = {RunOutcome::auth_failed, "the API refused the token: " + completion.result.error().describe(), {}};
  }

  // Whether an error leaves it open that the server applied the request.
  static bool maybe_applied(const api::ApiError& error)
  {
    if (error.delivery == api::Delivery::maybe_sent) return true;
    // A 500/502/504 may come from a proxy after the backend acted; 429 and 503 are refusals.
    return error.status >= 500 && error.status != 503;
  }

  void on_sent(const Completion& completion)
  {
    BatchRecord& batch = m_batches.at(completion.task.batch);
    const auto& result = completion.result;
    if (result) {
      batch.http_status = result->status;
      const json body = json::parse(result->body, nullptr, false);
      if (result->status == 202 && body.is_object() && body.contains("jobId")) {
        batch.status = BatchStatus::enqueued;
        batch.job_id = body["jobId"].get<std::string>();
        batch.response = result->body;
        batch.error.clear();
        m_store.update_batch_progress(batch);
        ++m_counters.jobs_followed;
        m_poll_attempts[batch.batch_index] = 0;
        schedule(Clock::now() + std::chrono::milliseconds(300), {Task::Kind::poll_job, batch.batch_index});
        spdlog::info("{}: {} devices, job {} enqueued ({} ms)", describe(batch), batch.device_count, batch.job_id,
                     result->elapsed.count());
        return;
      }
      json outcome =
          m_kind->outcome(body.is_discarded() ? json::object() : body, static_cast<std::size_t>(batch.device_count));
      if (m_reconciled.contains(batch.batch_index)) {
        outcome["reconciled"] = true;
        if (outcome.contains("sent")) outcome["sent"] = batch.device_count;
      }
      finish_batch(batch, BatchStatus::done, outcome, "");
      spdlog::info("{}: {} devices done ({} ms)", describe(batch), batch.device_count, result->elapsed.count());
      return;
    }
    const api::ApiError& error = result.error();
    batch.http_status = error.status;
    if (error.kind == api::ErrorKind::permanent) {
      finish_batch(batch, BatchStatus::failed, json::object(), error.describe());
      spdlog::warn("{} failed: {}", describe(batch), error.describe());
      return;
    }
    if (maybe_applied(error) && m_kind->on_unknown() != jobs::OnUnknown::resend) {
      handle_unknown(batch, error.describe());
      return;
    }
    retry(batch, error, {Task::Kind::send, batch.batch_index});
  }

  void retry(BatchRecord& batch, const api::ApiError& error, Pending what)
  {
    // A send counts its attempts in the batch; every follow-up request (each
    // device's history, each job poll) counts its own.
    // A 429 says "slower", not "this request is wrong": it does not use up the
    // request's attempts (the run's retry budget still bounds it).
    const std::string key = attempt_key(what.kind, batch.batch_index, what.device_id, what.page);
    const bool throttled = error.status == 429;
    if (throttled) ++m_throttled[key];
    int attempt = 0;
    if (what.kind == Task::Kind::send) {
      attempt = batch.attempts + 1 - m_throttled[key];
    } else {
      if (!throttled) ++m_aux_attempts[key];
      attempt = m_aux_attempts[key];
    }
    if (attempt > m_options.backoff.max_attempts || m_retries_used >= m_options.retry_budget) {
      const std::string reason = m_retries_used >= m_options.retry_budget
                                     ? "the run's retry budget is used up"
                                     : "gave up after " + std::to_string(attempt - 1) + " attempts";
      if (what.kind == Task::Kind::send) {
        finish_batch(batch, BatchStatus::failed, json::object(), reason + ": " + error.describe());
      } else {
        batch.error = reason + " following up: " + error.describe();
        m_store.update_batch_progress(batch);
        m_unfinished = true;
      }
      spdlog::warn("{}: {}: {}", describe(batch), reason, error.describe());
      return;
    }
    ++m_retries_used;
    ++m_counters.retries;
    const auto delay = backoff_delay(m_options.backoff, attempt, error.retry_after_s, m_rng);
    if (what.kind == Task::Kind::send) {
      batch.status = BatchStatus::retry_wait;
      batch.next_attempt_ms = wall_ms() + delay.count();
      batch.error = error.describe();
      m_store.update_batch_progress(batch);
    }
    spdlog::debug("{}: retry in {} ms after {}", describe(batch), delay.count(), error.describe());
    schedule(Clock::now() + delay, std::move(what));
  }

  // The request may or may not have been applied: what the step kind says.
  void handle_unknown(BatchRecord& batch, const std::string& why)
  {
    switch (m_kind->on_unknown()) {
    case jobs::OnUnknown::resend:
      if (!request_unchanged(batch)) {
        m_fatal = {RunOutcome::state_mismatch,
                   describe(batch) + " would now send a different request than the one recorded; the plan or its "
                                     "environment changed since the run started. Start a new run.",
                   {}};
        return;
      }
      m_store.add_event(m_run_id, "batch_resent",
                        describe(batch) + ": " + why + "; re-sending (repeating it is harmless)");
      schedule(Clock::now(), {Task::Kind::send, batch.batch_index});
      return;
    case jobs::OnUnknown::report:
      batch.status = BatchStatus::unknown;
      batch.error = why + "; not re-sent (it is not safe to repeat; see the step's on_unknown/delivery option)";
      m_store.update_batch_progress(batch);
      m_store.add_event(m_run_id, "batch_unknown", describe(batch) + ": " + batch.error);
      m_unfinished = true;
      return;
    case jobs::OnUnknown::reconcile_commands: {
      batch.status = BatchStatus::unknown;
      batch.error = why + "; reconciling against the devices' command history";
      m_store.update_batch_progress(batch);
      const BatchRecord stored = with_request(batch);
      const json body = json::parse(stored.body);
      Reconciliation reconciliation;
      reconciliation.command_name = body.value("name", "");
      reconciliation.command_time = body.value("time", std::int64_t{0});
      const auto ids = ids_of(stored);
      reconciliation.remaining = ids.size();
      m_reconciling[batch.batch_index] = reconciliation;
      for (const auto& id : ids) schedule(Clock::now(), {Task::Kind::history, batch.batch_index, 0, id});
      return;
    }
    case jobs::OnUnknown::reconcile_creates:
      batch.status = BatchStatus::unknown;
      batch.error = why + "; looking the device up before creating it again";
      m_store.update_batch_progress(batch);
      schedule(Clock::now(), {Task::Kind::lookup_created, batch.batch_index});
      return;
    }
  }

  void on_history(const Completion& completion)
  {
    BatchRecord& batch = m_batches.at(completion.task.batch);
    auto& reconciliation = m_reconciling.at(completion.task.batch);
    const auto& result = completion.result;
    if (!result) {
      if (result.error().status == 404) {
        // The device is gone (deleted meanwhile): nothing to deliver to.
        --reconciliation.remaining;
      } else {
        retry(batch, result.error(), {Task::Kind::history, batch.batch_index, 0, completion.task.device_id});
        return;
      }
    } else {
      const json history = json::parse(result->body, nullptr, false);
      bool delivered = false;
      if (history.is_array()) {
        for (const auto& command : history) {
          const auto time = command.contains("time") && command["time"].is_string()
                                ? losant::parse_iso8601_ms(command["time"].get<std::string>())
                                : std::nullopt;
          if (command.value("name", "") == reconciliation.command_name && time == reconciliation.command_time)
            delivered = true;
        }
      }
      if (!delivered) reconciliation.missing.push_back(completion.task.device_id);
      --reconciliation.remaining;
      ++m_counters.reconciled_devices;
    }
    if (reconciliation.remaining > 0) return;
    m_reconciled.insert(batch.batch_index);
    if (reconciliation.missing.empty()) {
      m_store.add_event(m_run_id, "batch_reconciled",
                        describe(batch) + ": every device already has the command; not re-sent");
      finish_batch(batch, BatchStatus::done, {{"sent", batch.device_count}, {"reconciled", true}}, "");
      m_reconciling.erase(batch.batch_index);
      return;
    }
    // Narrow the batch to the devices without the command, same `time`.
    const std::vector<std::string> missing = std::move(reconciliation.missing);
    const jobs::Request request = m_kind->build(missing, {m_run_id, reconciliation.command_time});
    m_store.add_event(m_run_id, "batch_reconciled",
                      describe(batch) + ": " + std::to_string(missing.size()) + " of " +
                          std::to_string(batch.device_count) +
                          " devices had not received the command; sending to those only");
    batch.device_ids_json = json(missing).dump();
    batch.body = request.body;
    batch.request_hash = request_hash(request.method, request.path, request.body);
    batch.status = BatchStatus::planned;
    m_store.update_batch(batch); // the narrowed request replaces the stored one
    batch.device_ids_json = "[]";
    batch.body.clear();
    m_reconciling.erase(batch.batch_index);
    schedule(Clock::now(), {Task::Kind::send, batch.batch_index});
  }

  void on_lookup(const Completion& completion)
  {
    BatchRecord& batch = m_batches.at(completion.task.batch);
    const auto& result = completion.result;
    if (!result) {
      retry(batch, result.error(), {Task::Kind::lookup_created, batch.batch_index});
      return;
    }
    const json page = json::parse(result->body);
    if (!page["items"].empty()) {
      m_store.add_event(m_run_id, "batch_reconciled",
                        describe(batch) + ": the device exists already; not created again");
      finish_batch(batch, BatchStatus::done,
                   {{"created", 1}, {"deviceId", page["items"][0].value("id", "")}, {"reconciled", true}}, "");
      return;
    }
    m_store.add_event(m_run_id, "batch_resent", describe(batch) + ": the device does not exist; creating it");
    schedule(Clock::now(), {Task::Kind::send, batch.batch_index});
  }

  void on_job_log(const Completion& completion)
  {
    BatchRecord& batch = m_batches.at(completion.task.batch);
    const auto& result = completion.result;
    if (!result) {
      if (result.error().status == 404) {
        schedule(Clock::now(), {Task::Kind::list_jobs, batch.batch_index, 0});
      } else if (result.error().kind == api::ErrorKind::permanent) {
        batch.error = "following job " + batch.job_id + ": " + result.error().describe();
        m_store.update_batch_progress(batch);
        m_unfinished = true;
      } else {
        retry(batch, result.error(), {Task::Kind::poll_job, batch.batch_index});
      }
      return;
    }
    apply_job_state(batch, jobs::read_job_log(json::parse(result->body)));
  }

  void on_job_list(const Completion& completion)
  {
    BatchRecord& batch = m_batches.at(completion.task.batch);
    const auto& result = completion.result;
    if (!result) {
      retry(batch, result.error(), {Task::Kind::list_jobs, batch.batch_index, completion.task.page});
      return;
    }
    const json page = json::parse(result->body);
    if (auto state = jobs::find_job_log(page, batch.job_id)) {
      m_job_log_ids[batch.batch_index] = state->log_id;
      apply_job_state(batch, *state);
      return;
    }
    const bool more = page.value("totalCount", 0) > (completion.task.page + 1) * 100;
    if (more && completion.task.page < 9) {
      schedule(Clock::now(), {Task::Kind::list_jobs, batch.batch_index, completion.task.page + 1});
      return;
    }
    // Not in the job logs (yet): look again a few times, waiting longer each
    // time; then check the devices themselves, which is what the step kind's
    // unknown-outcome handling does (re-send an idempotent request, read
    // command histories, or report).
    const int misses = ++m_job_misses[batch.batch_index];
    if (misses <= k_job_lookups) {
      schedule(Clock::now() + std::chrono::milliseconds(300 * misses), {Task::Kind::poll_job, batch.batch_index});
      return;
    }
    m_store.add_event(m_run_id, "job_not_found",
                      describe(batch) + ": job " + batch.job_id + " is in no job log after " + std::to_string(misses) +
                          " lookups; checking the devices instead");
    handle_unknown(batch, "job " + batch.job_id + " not found in the job logs");
  }

  static constexpr int k_job_lookups = 4;

  void apply_job_state(BatchRecord& batch, const jobs::JobState& job)
  {
    batch.job_status = jobs::to_string(job.status);
    batch.job_progress = std::to_string(job.completed) + "/" + std::to_string(job.total);
    if (job.finished()) {
      json outcome = m_kind->outcome(json::parse(job.output_json), static_cast<std::size_t>(batch.device_count));
      if (job.status == jobs::JobStatus::completed) {
        finish_batch(batch, BatchStatus::done, outcome, "");
        spdlog::info("{}: job {} completed", describe(batch), batch.job_id);
      } else {
        finish_batch(batch, BatchStatus::failed, outcome,
                     "job " + batch.job_id + " " + batch.job_status + ": " + job.error);
        spdlog::warn("{}: job {} {}: {}", describe(batch), batch.job_id, batch.job_status, job.error);
      }
      return;
    }
    m_store.update_batch_progress(batch);
    const auto waited = std::chrono::milliseconds(wall_ms() - batch.sent_ms);
    const int timeout_s = m_plan_step.job_timeout_seconds.value_or(m_plan.options.job_timeout_seconds);
    if (waited > std::chrono::seconds(timeout_s)) {
      batch.error = "job " + batch.job_id + " still " + batch.job_status + " after " + std::to_string(timeout_s) +
                    " s; resume follows it further";
      m_store.update_batch_progress(batch);
      m_store.add_event(m_run_id, "job_timeout", describe(batch) + ": " + batch.error);
      m_unfinished = true;
      return;
    }
    const int polls = ++m_poll_attempts[batch.batch_index];
    const auto interval = std::min<std::chrono::milliseconds>(
        m_options.job_poll_max,
        std::chrono::milliseconds(static_cast<std::int64_t>(300 * std::pow(1.5, std::min(polls, 20)))));
    schedule(Clock::now() + interval, {Task::Kind::poll_job, batch.batch_index});
  }

  void finish_batch(BatchRecord& batch, BatchStatus status, const json& outcome, const std::string& error)
  {
    m_failed_devices -= failed_in(batch);
    batch.status = status;
    batch.outcome_json = outcome.dump();
    batch.error = error;
    batch.finished_ms = wall_ms();
    m_failed_devices += failed_in(batch);
    m_store.update_batch_progress(batch);
    check_failure_budget();
  }

  // The devices a final batch failed for (all of them when the batch failed).
  std::int64_t failed_in(const BatchRecord& batch) const
  {
    if (batch.status == BatchStatus::failed) return batch.device_count;
    if (batch.status == BatchStatus::done) return m_kind->failed_count(json::parse(batch.outcome_json));
    return 0;
  }

  // Kept as batches finish rather than summed over every batch each time:
  // a million-device step has a thousand batches.
  std::int64_t failed_devices() const { return m_failed_devices; }

  void check_failure_budget()
  {
    if (m_aborting || m_step.device_count == 0) return;
    const double percent = 100.0 * static_cast<double>(failed_devices()) / static_cast<double>(m_step.device_count);
    const double limit = m_plan_step.max_failure_percent.value_or(m_options.max_failure_percent);
    if (percent > limit) {
      m_aborting = true;
      const std::string message = "step " + m_step.step_id + ": " + std::to_string(failed_devices()) + " of " +
                                  std::to_string(m_step.device_count) + " devices failed, above the limit of " +
                                  std::to_string(static_cast<int>(limit)) + "%; no new requests (resume continues)";
      m_store.add_event(m_run_id, "aborted", message);
      spdlog::error("{}", message);
    }
  }

  void finish_step()
  {
    std::map<std::string, std::int64_t> by_status;
    json totals = json::object();
    bool all_final = true;
    bool any_failed = false;
    for (const auto& [index, batch] : m_batches) {
      ++by_status[std::string(state::to_string(batch.status))];
      if (batch.status == BatchStatus::done || batch.status == BatchStatus::failed) {
        const json outcome = json::parse(batch.outcome_json); // kept alive for the loop
        for (const auto& [key, value] : outcome.items()) {
          if (value.is_number_integer()) totals[key] = totals.value(key, std::int64_t{0}) + value.get<std::int64_t>();
        }
      }
      if (batch.status == BatchStatus::failed || batch.status == BatchStatus::unknown) any_failed = true;
      if (batch.status != BatchStatus::done && batch.status != BatchStatus::failed) all_final = false;
    }
    const std::int64_t failed = failed_devices();
    m_step.result_json = json{{"batches", by_status}, {"totals", totals}, {"failedDevices", failed}}.dump();
    if (all_final) {
      m_step.status = (any_failed || failed > 0) ? state::StepStatus::failed : state::StepStatus::done;
      m_step.finished_ms = wall_ms();
    }
    m_store.update_step(m_step);
    if (all_final) {
      m_store.add_event(m_run_id, "step_finished",
                        "step " + m_step.step_id + " " + std::string(state::to_string(m_step.status)) + ": " +
                            totals.dump());
    }
    if (m_fatal.outcome != RunOutcome::completed) return;
    if (m_stopping) {
      m_fatal = {RunOutcome::interrupted, "stopped by a signal; `fleetrun resume` continues", {}};
    } else if (m_aborting) {
      m_fatal = {RunOutcome::failed, "too many failures in step " + m_step.step_id, {}};
    } else if (!all_final || m_unfinished) {
      m_fatal = {
          RunOutcome::failed, "step " + m_step.step_id + " has batches whose outcome is not known yet; see status", {}};
    } else if (m_step.status == state::StepStatus::failed && !m_options.keep_going) {
      m_fatal = {RunOutcome::failed,
                 "step " + m_step.step_id + " had failures; later steps were not started (--keep-going runs them)",
                 {}};
    } else if (m_step.status == state::StepStatus::failed) {
      m_had_failures = true;
    }
  }

public:
  bool had_failures() const { return m_had_failures; }

private:
  state::StateStore& m_store;
  const plans::Plan& m_plan;
  const std::string& m_run_id;
  state::StepRecord& m_step;
  const plans::Step& m_plan_step;
  std::unique_ptr<jobs::StepKind> m_kind;
  WorkerPool& m_pool;
  RateLimiter& m_limiter;
  const ExecutionOptions& m_options;
  RunCounters& m_counters;
  int& m_retries_used;
  const std::atomic<bool>& m_stop;
  std::mt19937_64& m_rng;

  std::map<int, BatchRecord> m_batches; // without their requests (see with_request)
  std::int64_t m_failed_devices = 0;
  std::multimap<Clock::time_point, Pending> m_pending;
  std::map<int, Reconciliation> m_reconciling;
  std::set<int> m_reconciled;
  std::map<int, std::string> m_job_log_ids;
  std::map<int, int> m_poll_attempts;
  std::map<int, int> m_job_misses;
  std::map<std::string, int> m_aux_attempts;
  std::map<std::string, int> m_throttled;
  RunResult m_fatal;
  bool m_stopping = false;
  bool m_aborting = false;
  bool m_unfinished = false;
  bool m_had_failures = false;
  double m_saved_rate = -1;
};

} // namespace

RunResult execute_run(state::StateStore& store, const plans::Plan& plan, const std::string& run_id,
                      const ApiConnection& connection, const ExecutionOptions& options,
                      const std::atomic<bool>& stop_requested, RateLimiter& limiter, const RunCounters& before)
{
  const auto run = store.run(run_id);
  if (run && run->learned_rate > 0) limiter.start_at(run->learned_rate, Clock::now());
  limiter.allow_in_flight(std::max(1, options.concurrency));
  WorkerPool pool(connection, std::max(1, options.concurrency));
  std::mt19937_64 rng(std::random_device{}());
  RunCounters counters = before;
  int retries_used = 0;
  RunResult result;
  bool had_failures = false;
  for (auto& step : store.steps(run_id)) {
    if (step.status == state::StepStatus::done) continue;
    StepRunner runner(store, plan, run_id, step, pool, limiter, options, counters, retries_used, stop_requested, rng);
    result = runner.run();
    had_failures = had_failures || runner.had_failures();
    if (result.outcome != RunOutcome::completed) break;
    if (stop_requested.load()) {
      result = {RunOutcome::interrupted, "stopped by a signal; `fleetrun resume` continues", {}};
      break;
    }
  }
  if (result.outcome == RunOutcome::completed && had_failures) {
    result = {RunOutcome::failed, "some steps had failures (--keep-going ran the later ones)", {}};
  }
  store.set_learned_rate(run_id, limiter.current_rate());
  // The loop already waited for what was in flight (up to the drain deadline);
  // anything still inside a request now is left to finish on its own.
  pool.stop(std::chrono::milliseconds(1000));
  result.counters = counters;
  return result;
}

} // namespace fleetrun::runner
