#include "machine/batch_machine.hpp"

#include "api/json_read.hpp"
#include "jobs/job_log.hpp"
#include "losant/time_format.hpp"
#include "plans/plan.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace fleetrun::machine {

using nlohmann::json;
using state::BatchStatus;

namespace {

using std::chrono::milliseconds;

Note log(Note::Level level, std::string message)
{
  return {level, "", std::move(message)};
}

Note event(std::string kind, std::string message, Note::Level level = Note::Level::info)
{
  return {level, std::move(kind), std::move(message)};
}

// Whether an error leaves it open that the server applied the request.
bool maybe_applied(const api::ApiError& error)
{
  if (error.delivery == api::Delivery::maybe_sent) return true;
  // A 500/502/504 may come from a proxy after the backend acted; 429 and 503 are refusals.
  return error.status >= 500 && error.status != 503;
}

json parse_or_discarded(const std::string& text)
{
  return json::parse(text, nullptr, false);
}

// A 2xx answer that cannot be used: a failed request, worth another try.
api::ApiError unreadable(const api::ApiResponse& response, const std::string& what)
{
  api::ApiError error;
  error.kind = api::ErrorKind::transient;
  error.status = response.status;
  error.message = what + ": " + response.body.substr(0, 120);
  return error;
}

} // namespace

const char* to_string(Purpose purpose)
{
  switch (purpose) {
  case Purpose::send: return "send";
  case Purpose::poll_job: return "job poll";
  case Purpose::list_jobs: return "job log listing";
  case Purpose::read_history: return "command history read";
  case Purpose::look_up_created: return "created-device lookup";
  }
  return "?";
}

std::string request_hash(const std::string& method, const std::string& path, const std::string& body)
{
  return plans::sha256_hex(method + "\n" + path + "\n" + body);
}

BatchMachine::BatchMachine(state::BatchRecord progress, const jobs::StepKind& kind, const MachinePolicy& policy)
    : m_record(std::move(progress)), m_kind(kind), m_policy(policy)
{
}

std::string BatchMachine::describe() const
{
  return "step " + m_policy.step_id + " batch " + std::to_string(m_record.batch_index + 1) + "/" +
         std::to_string(m_policy.batch_count);
}

bool BatchMachine::is_final() const
{
  return m_record.status == BatchStatus::done || m_record.status == BatchStatus::failed;
}

std::int64_t BatchMachine::failed_devices() const
{
  if (!is_final()) return 0;
  return jobs::failed_devices_of(parse_or_discarded(m_record.outcome_json), m_record.device_count,
                                 m_record.status == BatchStatus::failed);
}

bool BatchMachine::needs_stored_request(Purpose purpose)
{
  return purpose == Purpose::send || purpose == Purpose::look_up_created;
}

bool BatchMachine::out_of_attempts() const
{
  return m_failures >= m_policy.backoff.max_attempts;
}

// ---- the resume table ----------------------------------------------------------

Effects BatchMachine::start(const Moment& at)
{
  Effects effects;
  switch (m_record.status) {
  case BatchStatus::planned: effects.schedule.push_back({at.now, {Purpose::send}}); break;
  case BatchStatus::retry_wait:
    effects.schedule.push_back(
        {at.now + milliseconds(std::max<std::int64_t>(0, m_record.next_attempt_ms - at.wall_ms)), {Purpose::send}});
    break;
  case BatchStatus::enqueued: effects.schedule.push_back({at.now, {Purpose::poll_job}}); break;
  case BatchStatus::sending:
    // The process stopped between committing intent and recording the outcome.
    effects.notes.push_back(event("batch_unknown", describe() + " was in flight when the run stopped"));
    handle_unknown("in flight when the run stopped", at, effects);
    break;
  case BatchStatus::unknown:
    handle_unknown(m_record.error.empty() ? "outcome unknown" : m_record.error, at, effects);
    break;
  case BatchStatus::done:
  case BatchStatus::failed: break;
  }
  return effects;
}

// The request may or may not have been applied: what the step kind says.
void BatchMachine::handle_unknown(const std::string& why, const Moment& at, Effects& effects)
{
  switch (m_kind.on_unknown()) {
  case jobs::OnUnknown::resend:
    // Re-sent only once the stored request is proven to be what the plan builds now.
    m_awaiting = Awaiting::resend_check;
    m_unknown_why = why;
    effects.needs_stored_request = true;
    return;
  case jobs::OnUnknown::report:
    m_record.status = BatchStatus::unknown;
    m_record.error = why + "; not re-sent (it is not safe to repeat; see the step's on_unknown/delivery option)";
    effects.persist = true;
    effects.notes.push_back(event("batch_unknown", describe() + ": " + m_record.error, Note::Level::warn));
    effects.left_unfinished = true;
    return;
  case jobs::OnUnknown::reconcile_commands:
    m_record.status = BatchStatus::unknown;
    m_record.error = why + "; reconciling against the devices' command history";
    effects.persist = true;
    m_awaiting = Awaiting::reconcile_start;
    effects.needs_stored_request = true;
    return;
  case jobs::OnUnknown::reconcile_creates:
    m_record.status = BatchStatus::unknown;
    m_record.error = why + "; looking the device up before creating it again";
    effects.persist = true;
    effects.schedule.push_back({at.now, {Purpose::look_up_created}});
    return;
  }
}

Effects BatchMachine::on_stored_request(const StoredRequest& stored, const Moment& at)
{
  Effects effects;
  const Awaiting awaiting = std::exchange(m_awaiting, Awaiting::nothing);
  if (awaiting == Awaiting::resend_check) {
    jobs::BatchContext context{m_policy.run_id, 0};
    const json body = parse_or_discarded(stored.body);
    if (body.is_object() && body.contains("time") && body["time"].is_number_integer()) {
      context.command_time_ms = body["time"].get<std::int64_t>();
    }
    const jobs::Request rebuilt = m_kind.build(stored.device_ids, context);
    if (request_hash(rebuilt.method, rebuilt.path, rebuilt.body.value_or("")) != stored.hash) {
      effects.halt = Halt::plan_changed;
      effects.halt_message = describe() + " would now send a different request than the one recorded; the plan or its "
                                          "environment changed since the run started. Start a new run.";
      return effects;
    }
    effects.notes.push_back(
        event("batch_resent", describe() + ": " + m_unknown_why + "; re-sending (repeating it is harmless)"));
    effects.schedule.push_back({at.now, {Purpose::send}});
    return effects;
  }
  if (awaiting == Awaiting::reconcile_start) {
    const json body = parse_or_discarded(stored.body);
    m_command_name = body.is_object() ? body.value("name", "") : "";
    m_command_time = body.is_object() ? body.value("time", std::int64_t{0}) : 0;
    m_reconcile_ids = stored.device_ids;
    m_histories_pending = m_reconcile_ids.size();
    m_missing.clear();
    for (const auto& id : m_reconcile_ids) effects.schedule.push_back({at.now, {Purpose::read_history, 0, id}});
    if (m_reconcile_ids.empty()) narrow(at, effects);
  }
  return effects;
}

// ---- leaving ---------------------------------------------------------------------

Dispatch BatchMachine::dispatch(const Want& want, const StoredRequest* stored, const Moment& at)
{
  Dispatch out;
  switch (want.purpose) {
  case Purpose::send:
    // Intent first: committed before the first byte of the request leaves.
    m_record.status = BatchStatus::sending;
    ++m_record.attempts;
    m_record.sent_ms = at.wall_ms;
    out.effects.persist = true;
    out.request = {stored->method, stored->path, {}, stored->body};
    break;
  case Purpose::poll_job:
    out.request = api::endpoints::job_log(m_job_log_id.empty() ? m_record.job_id : m_job_log_id);
    break;
  case Purpose::list_jobs: {
    api::JobLogListParams params;
    params.page = want.page;
    params.per_page = 100;
    params.sort_direction = "desc";
    out.request = api::endpoints::list_job_logs(params);
    break;
  }
  case Purpose::read_history: {
    api::CommandHistoryParams params;
    params.limit = 100;
    params.start_ms = m_command_time;
    params.end_ms = m_command_time;
    params.sort_direction = "asc";
    out.request = api::endpoints::command_history(want.device_id, params);
    break;
  }
  case Purpose::look_up_created: {
    const json device = parse_or_discarded(stored->body);
    const json query = {{"name", device.is_object() ? device.value("name", "") : ""},
                        {"tags", {{jobs::k_marker_tag, m_policy.run_id}}}};
    api::DeviceListParams params;
    params.query_json = query.dump();
    params.per_page = 10;
    out.request = api::endpoints::list_devices(params);
    break;
  }
  }
  return out;
}

// ---- answers ---------------------------------------------------------------------

std::string BatchMachine::follow_up_key(const Want& want)
{
  return std::string(to_string(want.purpose)) + "/" + want.device_id + "/" + std::to_string(want.page);
}

Effects BatchMachine::on_answer(const Want& want, const api::ApiResult& result, const Moment& at,
                                RunAllowance& allowance)
{
  Effects effects;
  if (!result && result.error().kind == api::ErrorKind::auth) {
    if (want.purpose == Purpose::send) {
      m_record.status = BatchStatus::planned; // refused at the door: nothing was applied
      m_record.error = result.error().describe();
      effects.persist = true;
    }
    effects.halt = Halt::auth_failed;
    effects.halt_message = "the API refused the token: " + result.error().describe();
    return effects;
  }
  switch (want.purpose) {
  case Purpose::send: on_sent(result, at, allowance, effects); break;
  case Purpose::poll_job: on_job_log(want, result, at, allowance, effects); break;
  case Purpose::list_jobs: on_job_list(want, result, at, allowance, effects); break;
  case Purpose::read_history: on_history(want, result, at, allowance, effects); break;
  case Purpose::look_up_created: on_lookup(want, result, at, allowance, effects); break;
  }
  return effects;
}

void BatchMachine::on_sent(const api::ApiResult& result, const Moment& at, RunAllowance& allowance, Effects& effects)
{
  if (result) {
    m_record.http_status = result->status;
    const json body = parse_or_discarded(result->body);
    if (result->status == 202 && body.is_object() && body.contains("jobId") && body["jobId"].is_string()) {
      m_record.status = BatchStatus::enqueued;
      m_record.job_id = body["jobId"].get<std::string>();
      m_record.response = result->body.substr(0, 1000);
      m_record.error.clear();
      effects.persist = true;
      ++allowance.counters.jobs_followed;
      m_polls = 0;
      effects.schedule.push_back({at.now + m_policy.job_poll_first, {Purpose::poll_job}});
      effects.notes.push_back(log(Note::Level::info, describe() + ": " + std::to_string(m_record.device_count) +
                                                         " devices, job " + m_record.job_id + " enqueued (" +
                                                         std::to_string(result->elapsed.count()) + " ms)"));
      return;
    }
    json outcome =
        m_kind.outcome(body.is_discarded() ? json::object() : body, static_cast<std::size_t>(m_record.device_count));
    if (m_reconciled) {
      outcome["reconciled"] = true;
      if (outcome.contains("sent")) outcome["sent"] = m_record.device_count;
    }
    finish(BatchStatus::done, std::move(outcome), "", at, effects);
    effects.notes.push_back(log(Note::Level::info, describe() + ": " + std::to_string(m_record.device_count) +
                                                       " devices done (" + std::to_string(result->elapsed.count()) +
                                                       " ms)"));
    return;
  }
  const api::ApiError& error = result.error();
  m_record.http_status = error.status;
  if (error.kind == api::ErrorKind::permanent) {
    finish(BatchStatus::failed, json::object(), error.describe(), at, effects);
    effects.notes.push_back(log(Note::Level::warn, describe() + " failed: " + error.describe()));
    return;
  }
  if (maybe_applied(error) && m_kind.on_unknown() != jobs::OnUnknown::resend) {
    // The attempt counts: a connection that is lost every time must not
    // reconcile and re-send for ever.
    ++m_failures;
    handle_unknown(error.describe(), at, effects);
    return;
  }
  retry({Purpose::send}, error, at, allowance, effects);
}

void BatchMachine::retry(const Want& want, const api::ApiError& error, const Moment& at, RunAllowance& allowance,
                         Effects& effects)
{
  // A 429 says "slower", not "this request is wrong": it uses up neither the
  // batch's attempts nor the run's retry budget (the rate limiter slows down).
  const bool throttled = error.status == 429;
  if (error.retry_after_s && *error.retry_after_s > static_cast<double>(m_policy.max_retry_after.count())) {
    // Waiting that long in a process someone is watching (or a scheduler
    // will kill) helps nobody: stop, and let resume continue when it is time.
    const auto wait_ms = static_cast<std::int64_t>(*error.retry_after_s * 1000);
    if (want.purpose == Purpose::send) {
      m_record.status = BatchStatus::retry_wait;
      m_record.next_attempt_ms = at.wall_ms + wait_ms;
      m_record.error = error.describe();
      effects.persist = true;
    }
    effects.halt = Halt::asked_to_wait;
    effects.halt_message = "the API asked to wait " + std::to_string(wait_ms / 1000) + " s (Retry-After) before " +
                           describe() + ", more than the " + std::to_string(m_policy.max_retry_after.count()) +
                           " s the run may wait (--max-retry-after); `fleetrun resume` continues it then";
    return;
  }
  // A send counts against the batch's attempts; a follow-up request (one
  // device's history, a job poll) against its own.
  int& failures = want.purpose == Purpose::send ? m_failures : m_follow_up_failures[follow_up_key(want)];
  if (!throttled) ++failures;
  if (!throttled && (failures >= m_policy.backoff.max_attempts || allowance.retries_left <= 0)) {
    const std::string reason = allowance.retries_left <= 0
                                   ? "the run's retry budget is used up"
                                   : "gave up after " + std::to_string(failures) + " failed attempts";
    if (want.purpose == Purpose::send) {
      finish(BatchStatus::failed, json::object(), reason + ": " + error.describe(), at, effects);
    } else {
      m_record.error = reason + " (" + to_string(want.purpose) + "): " + error.describe();
      effects.persist = true;
      effects.left_unfinished = true;
    }
    effects.notes.push_back(log(Note::Level::warn, describe() + ": " + reason + ": " + error.describe()));
    return;
  }
  if (!throttled) --allowance.retries_left;
  ++allowance.counters.retries;
  const auto delay = backoff_delay(m_policy.backoff, failures + 1, error.retry_after_s, allowance.rng);
  if (want.purpose == Purpose::send) {
    m_record.status = BatchStatus::retry_wait;
    m_record.next_attempt_ms = at.wall_ms + delay.count();
    m_record.error = error.describe();
    effects.persist = true;
  }
  effects.notes.push_back(log(Note::Level::debug, describe() + ": " + to_string(want.purpose) + " again in " +
                                                      std::to_string(delay.count()) + " ms after " + error.describe()));
  effects.schedule.push_back({at.now + delay, want});
}

void BatchMachine::finish(BatchStatus status, json outcome, std::string error, const Moment& at, Effects& effects)
{
  m_record.status = status;
  m_record.outcome_json = outcome.dump();
  m_record.error = std::move(error);
  m_record.finished_ms = at.wall_ms;
  effects.persist = true;
}

// ---- following a job ---------------------------------------------------------------

void BatchMachine::on_job_log(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                              Effects& effects)
{
  if (!result) {
    if (result.error().status == 404) {
      effects.schedule.push_back({at.now, {Purpose::list_jobs, 0}});
    } else if (result.error().kind == api::ErrorKind::permanent) {
      m_record.error = "following job " + m_record.job_id + ": " + result.error().describe();
      effects.persist = true;
      effects.left_unfinished = true;
    } else {
      retry(want, result.error(), at, allowance, effects);
    }
    return;
  }
  const json log_json = parse_or_discarded(result->body);
  if (!log_json.is_object()) {
    retry(want, unreadable(*result, "the job log answer is not a JSON object"), at, allowance, effects);
    return;
  }
  m_follow_up_failures.erase(follow_up_key(want)); // a usable answer
  const jobs::JobState job = jobs::read_job_log(log_json);
  follow_job(job, at, effects);
  if (job.finished()) {
    effects.notes.push_back(log(job.status == jobs::JobStatus::completed ? Note::Level::info : Note::Level::warn,
                                describe() + ": job " + m_record.job_id + " " + m_record.job_status +
                                    (job.error.empty() ? "" : ": " + job.error)));
  }
}

void BatchMachine::follow_job(const jobs::JobState& job, const Moment& at, Effects& effects)
{
  const std::string job_status = jobs::to_string(job.status);
  m_record.job_status = job_status;
  m_record.job_progress = std::to_string(job.completed) + "/" + std::to_string(job.total);
  if (job.finished()) {
    json outcome = m_kind.outcome(parse_or_discarded(job.output_json), static_cast<std::size_t>(m_record.device_count));
    if (job.status == jobs::JobStatus::completed) {
      finish(BatchStatus::done, std::move(outcome), "", at, effects);
    } else {
      finish(BatchStatus::failed, std::move(outcome), "job " + m_record.job_id + " " + job_status + ": " + job.error,
             at, effects);
    }
    return;
  }
  effects.persist = true;
  const auto waited = milliseconds(at.wall_ms - m_record.sent_ms);
  if (waited > m_policy.job_timeout) {
    m_record.error = "job " + m_record.job_id + " still " + job_status + " after " +
                     std::to_string(m_policy.job_timeout.count()) + " s; resume follows it further";
    effects.notes.push_back(event("job_timeout", describe() + ": " + m_record.error, Note::Level::warn));
    effects.left_unfinished = true;
    return;
  }
  ++m_polls;
  effects.schedule.push_back({at.now + next_poll_in(job, waited), {Purpose::poll_job}});
}

// When to look at a running job again. With progress reported, when the
// job should be done at the pace it has kept; without, a little later each
// time. Never sooner than a twentieth of the time already waited (so a long
// job costs few polls: about 20 per tenfold of waiting) nor later than
// job_poll_max.
milliseconds BatchMachine::next_poll_in(const jobs::JobState& job, milliseconds waited) const
{
  auto interval = milliseconds(static_cast<std::int64_t>(static_cast<double>(m_policy.job_poll_first.count()) *
                                                         std::pow(1.5, std::min(m_polls, 20))));
  if (job.total > 0 && job.completed > 0 && job.completed < job.total && waited.count() > 0) {
    const double per_item = static_cast<double>(waited.count()) / static_cast<double>(job.completed);
    interval = milliseconds(static_cast<std::int64_t>(per_item * static_cast<double>(job.total - job.completed))) +
               milliseconds(50);
  }
  const auto floor = std::max(m_policy.job_poll_first, waited / 20);
  return std::clamp(interval, std::min(floor, m_policy.job_poll_max), m_policy.job_poll_max);
}

void BatchMachine::on_job_list(const Want& want, const api::ApiResult& result, const Moment& at,
                               RunAllowance& allowance, Effects& effects)
{
  if (!result) {
    retry(want, result.error(), at, allowance, effects);
    return;
  }
  const json page = parse_or_discarded(result->body);
  m_follow_up_failures.erase(follow_up_key(want));
  if (auto job = jobs::find_job_log(page, m_record.job_id)) {
    m_job_log_id = job->log_id;
    follow_job(*job, at, effects);
    return;
  }
  const std::int64_t total = page.is_object() && page.contains("totalCount") && page["totalCount"].is_number_integer()
                                 ? page["totalCount"].get<std::int64_t>()
                                 : 0;
  if (total > static_cast<std::int64_t>(want.page + 1) * 100 && want.page + 1 < m_policy.job_log_pages) {
    effects.schedule.push_back({at.now, {Purpose::list_jobs, want.page + 1}});
    return;
  }
  // Not in the job logs (yet): look again a few times, waiting longer each
  // time; then check the devices themselves, which is what the step kind's
  // unknown-outcome handling does (re-send an idempotent request, read
  // command histories, or report).
  if (++m_job_misses <= m_policy.job_lookups) {
    effects.schedule.push_back({at.now + m_policy.job_poll_first * m_job_misses, {Purpose::poll_job}});
    return;
  }
  effects.notes.push_back(event("job_not_found", describe() + ": job " + m_record.job_id + " is in no job log after " +
                                                     std::to_string(m_job_misses) +
                                                     " lookups; checking the devices instead"));
  handle_unknown("job " + m_record.job_id + " not found in the job logs", at, effects);
}

// ---- reconciling -------------------------------------------------------------------

void BatchMachine::on_history(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                              Effects& effects)
{
  if (!result) {
    if (result.error().status != 404) {
      retry(want, result.error(), at, allowance, effects);
      return;
    }
    // The device is gone (deleted meanwhile): nothing to deliver to.
  } else {
    const json history = parse_or_discarded(result->body);
    if (!history.is_array()) {
      retry(want, unreadable(*result, "the command history answer is not a JSON array"), at, allowance, effects);
      return;
    }
    m_follow_up_failures.erase(follow_up_key(want));
    bool delivered = false;
    for (const auto& command : history) {
      if (!command.is_object()) continue;
      const auto time = command.contains("time") && command["time"].is_string()
                            ? losant::parse_iso8601_ms(command["time"].get<std::string>())
                            : std::nullopt;
      if (api::string_member(command, "name") == m_command_name && time == m_command_time) delivered = true;
    }
    if (!delivered) m_missing.push_back(want.device_id);
    ++allowance.counters.reconciled_devices;
  }
  if (--m_histories_pending == 0) narrow(at, effects);
}

// Every history is read: done if every device has the command, else the
// batch narrowed to those without it (same `time`) and sent to them only.
void BatchMachine::narrow(const Moment& at, Effects& effects)
{
  if (m_missing.empty()) {
    effects.notes.push_back(
        event("batch_reconciled", describe() + ": every device already has the command; not re-sent"));
    finish(BatchStatus::done, {{"sent", m_record.device_count}, {"reconciled", true}}, "", at, effects);
    return;
  }
  if (out_of_attempts()) {
    finish(BatchStatus::failed, {{"sent", m_record.device_count - static_cast<std::int64_t>(m_missing.size())}},
           "gave up after " + std::to_string(m_failures) + " attempts; " + std::to_string(m_missing.size()) + " of " +
               std::to_string(m_record.device_count) + " devices do not have the command",
           at, effects);
    effects.notes.push_back(event("batch_reconciled", describe() + ": " + m_record.error, Note::Level::warn));
    return;
  }
  const jobs::Request request = m_kind.build(m_missing, {m_policy.run_id, m_command_time});
  effects.notes.push_back(
      event("batch_reconciled", describe() + ": " + std::to_string(m_missing.size()) + " of " +
                                    std::to_string(m_record.device_count) +
                                    " devices had not received the command; sending to those only"));
  StoredRequest narrowed;
  narrowed.device_ids = std::move(m_missing);
  narrowed.method = request.method;
  narrowed.path = request.path;
  narrowed.body = request.body.value_or("");
  narrowed.hash = request_hash(narrowed.method, narrowed.path, narrowed.body);
  m_missing.clear();
  effects.replace_request = std::move(narrowed);
  m_record.status = BatchStatus::planned;
  effects.persist = true;
  m_reconciled = true;
  effects.schedule.push_back({at.now, {Purpose::send}});
}

void BatchMachine::on_lookup(const Want& want, const api::ApiResult& result, const Moment& at, RunAllowance& allowance,
                             Effects& effects)
{
  if (!result) {
    retry(want, result.error(), at, allowance, effects);
    return;
  }
  const json page = parse_or_discarded(result->body);
  if (!page.is_object() || !page.contains("items") || !page["items"].is_array()) {
    retry(want, unreadable(*result, "the device list answer has no items"), at, allowance, effects);
    return;
  }
  m_follow_up_failures.erase(follow_up_key(want));
  if (!page["items"].empty()) {
    effects.notes.push_back(event("batch_reconciled", describe() + ": the device exists already; not created again"));
    const json& first = page["items"][0];
    finish(BatchStatus::done, {{"created", 1}, {"deviceId", api::string_member(first, "id")}, {"reconciled", true}}, "",
           at, effects);
    return;
  }
  effects.notes.push_back(event("batch_resent", describe() + ": the device does not exist; creating it"));
  effects.schedule.push_back({at.now, {Purpose::send}});
}

} // namespace fleetrun::machine
