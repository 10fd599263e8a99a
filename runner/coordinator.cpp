#include "runner/coordinator.hpp"

#include "jobs/step_kind.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <unistd.h>

namespace fleetrun::runner {

using nlohmann::json;

namespace {

constexpr int k_pages_per_sync = 8;

} // namespace

// ---- the run -------------------------------------------------------------------------

Coordinator::Coordinator(state::RunJournal& journal, const plans::Plan& plan, RunServices services,
                         ExecutionSettings settings)
    : m_store(journal), m_plan(plan), m_services(services), m_settings(settings),
      m_dispatcher(services.sender, services.limiter, services.clock, m_settings.concurrency,
                   m_settings.max_retry_after, m_allowance.counters)
{
  m_allowance.retries_left = m_settings.retry_budget;
  m_allowance.rng.seed(m_settings.seed); // the backoff's jitter: the same seed, the same run
}

Moment Coordinator::moment() const
{
  return {m_services.clock.now(), m_services.clock.wall_ms()};
}

state::RunRecord Coordinator::begin(state::RunKind kind, const RunOrigin& origin)
{
  state::RunRecord run;
  run.id = m_store.new_run_id();
  run.kind = kind;
  run.status = state::RunStatus::running;
  run.plan_path = origin.plan_path;
  run.plan_hash = m_plan.text_hash;
  run.effective_hash = m_plan.effective_hash;
  run.plan_text = m_plan.text;
  run.api_url = origin.api_url;
  run.application_id = origin.application_id;
  run.preview_run_id = origin.preview_run_id;
  run.variables_json = m_plan.variable_hashes_json();
  run.created_ms = run.updated_ms = m_services.clock.wall_ms();
  // What an earlier run learned about this API's rate limit is where this one starts.
  for (const auto& earlier : m_store.reader().runs()) {
    if (earlier.api_url == run.api_url && earlier.application_id == run.application_id && earlier.learned_rate > 0) {
      m_services.limiter.start_at(earlier.learned_rate, m_services.clock.now());
      m_started_from = earlier.learned_rate;
      run.learned_rate = earlier.learned_rate;
      spdlog::debug("starting at {:.1f} requests/s, learned by run {}", earlier.learned_rate, earlier.id);
      break;
    }
  }
  auto transaction = m_store.transaction();
  m_store.insert_run(run);
  if (kind == state::RunKind::apply) {
    if (!m_store.acquire_lock(run.id)) throw state::StateFailure("cannot lock the new run " + run.id);
    m_store.add_event(run.id, "started",
                      "apply of " + run.plan_path +
                          (origin.preview_run_id.empty() ? std::string() : " using preview " + origin.preview_run_id));
  } else {
    m_store.add_event(run.id, "preview_started", "dry-run of " + run.plan_path + ": GET requests only");
  }
  transaction.commit();
  return run;
}

std::expected<void, state::LockHolder> Coordinator::take_over(const std::string& run_id)
{
  if (auto locked = m_store.acquire_lock(run_id); !locked) return locked;
  auto transaction = m_store.transaction();
  m_store.set_run_status(run_id, state::RunStatus::running);
  m_store.add_event(run_id, "resumed", "resumed by pid " + std::to_string(getpid()));
  transaction.commit();
  return {};
}

void Coordinator::heartbeat(const std::string& run_id)
{
  m_store.heartbeat(run_id);
  const double rate = m_services.limiter.rate_to_store(m_started_from);
  if (std::abs(rate - m_saved_rate) > 1e-9) {
    m_saved_rate = rate;
    m_store.set_learned_rate(run_id, rate);
  }
}

void Coordinator::check_state_file()
{
  const auto now = m_services.clock.now();
  if (now < m_next_file_check) return;
  m_next_file_check = now + std::chrono::seconds(1);
  m_store.reader().check_still_there();
}

ReadContext Coordinator::read_context()
{
  return {m_dispatcher,    m_services.clock,          m_settings.backoff,
          m_allowance.rng, m_services.stop_requested, m_settings.max_retry_after};
}

api::ApiResult Coordinator::get(api::RequestSpec request)
{
  const auto before = m_allowance.counters.requests;
  auto result = read_one(read_context(), std::move(request));
  m_allowance.counters.resolution_requests += m_allowance.counters.requests - before;
  return result;
}

std::expected<void, api::ApiError> Coordinator::resolve(const std::string& run_id)
{
  const auto before = m_allowance.counters.requests;
  auto resolved = resolve_queries(m_plan, run_id, read_context(), *this);
  m_allowance.counters.resolution_requests += m_allowance.counters.requests - before;
  return resolved;
}

// Each page is one transaction; the list is marked resolved only at the end.
// A list not marked resolved is fetched again, so its pages need not each be
// forced to disk: they commit without an fsync, except every 8th (synced while
// the next page is fetched, so that little is left for the end), and the
// commit that marks the list resolved syncs the rest.
void Coordinator::begin_list(const std::string& run_id, const plans::QuerySpec& query)
{
  auto transaction = m_store.transaction();
  m_store.clear_query_devices(run_id, query.name);
  m_store.upsert_query({run_id, query.name, query.query_json, 0, false});
  transaction.commit();
  m_pages_since_sync = 0;
  m_relaxed = std::make_unique<state::RelaxedDurability>(m_store);
}

void Coordinator::append_page(const std::string& run_id, const plans::QuerySpec& query, const jobs::DevicePage& page)
{
  check_state_file();
  const bool sync = ++m_pages_since_sync % k_pages_per_sync == 0;
  if (sync) m_relaxed->restore();
  m_store.append_devices(run_id, query.name, page);
  if (sync) m_relaxed->relax();
}

void Coordinator::end_list(const std::string& run_id, const plans::QuerySpec& query, std::int64_t total, bool complete)
{
  m_relaxed.reset();
  m_store.upsert_query({run_id, query.name, query.query_json, total, complete});
}

void Coordinator::note(const std::string& run_id, const std::string& kind, const std::string& message)
{
  m_store.add_event(run_id, kind, message);
}

void Coordinator::refuse(const std::string& run_id, const std::string& message)
{
  m_relaxed.reset();
  auto transaction = m_store.transaction();
  m_store.add_event(run_id, "refused", message);
  m_store.set_run_status(run_id, state::RunStatus::refused);
  m_store.release_lock(run_id);
  transaction.commit();
}

void Coordinator::interrupt(const std::string& run_id, const std::string& message)
{
  m_relaxed.reset();
  auto transaction = m_store.transaction();
  m_store.add_event(run_id, "stop_requested", message);
  m_store.set_run_status(run_id, state::RunStatus::interrupted);
  m_store.release_lock(run_id);
  transaction.commit();
}

void Coordinator::record_preview(const std::string& run_id, const json& facts, bool guards_ok)
{
  auto transaction = m_store.transaction();
  m_store.set_run_summary(run_id, facts.dump());
  m_store.set_run_status(run_id, guards_ok ? state::RunStatus::previewed : state::RunStatus::refused);
  transaction.commit();
}

void Coordinator::record_steps(const std::string& run_id, const std::string& snapshot_run)
{
  auto transaction = m_store.transaction();
  for (std::size_t i = 0; i < m_plan.steps.size(); ++i) {
    const auto& step = m_plan.steps[i];
    state::StepRecord record;
    record.run_id = run_id;
    record.index = static_cast<int>(i);
    record.step_id = step.id;
    record.action = std::string(plans::action_name(step.action));
    record.query_name = step.query;
    record.snapshot_run_id = snapshot_run;
    m_store.insert_step(record);
  }
  transaction.commit();
}

void Coordinator::report_progress(ProgressObserver observer, std::chrono::milliseconds every)
{
  m_progress = std::move(observer);
  m_progress_every = every;
}

void Coordinator::finish(const std::string& run_id, const RunResult& result)
{
  state::RunStatus status = state::RunStatus::completed;
  switch (result.outcome) {
  case RunOutcome::completed: break;
  case RunOutcome::failed: status = state::RunStatus::failed; break;
  case RunOutcome::interrupted:
  case RunOutcome::auth_failed:
  case RunOutcome::api_paused:
  case RunOutcome::state_mismatch: status = state::RunStatus::interrupted; break;
  }
  const auto& c = m_allowance.counters;
  const json counters = {{"requests", c.requests},
                         {"retries", c.retries},
                         {"throttled429", c.throttled},
                         {"serverErrors5xx", c.server_errors},
                         {"networkErrors", c.network_errors},
                         {"timeouts", c.timeouts},
                         {"reconciledDevices", c.reconciled_devices},
                         {"jobsFollowed", c.jobs_followed},
                         {"requestsBy",
                          {{"resolution", c.resolution_requests},
                           {"batches", c.batch_requests},
                           {"jobPolls", c.job_poll_requests},
                           {"reconciliation", c.reconciliation_requests}}}};
  // The timeline, in at most 600 buckets of whole seconds: [offset, requests, 429s, failed].
  json timeline = json::object();
  if (!c.timeline.empty()) {
    const std::int64_t first = c.timeline.begin()->first;
    const std::int64_t span = c.timeline.rbegin()->first - first + 1;
    const std::int64_t width = (span + 599) / 600;
    std::map<std::int64_t, TimelineBucket> merged;
    for (const auto& [second, bucket] : c.timeline) {
      auto& into = merged[(second - first) / width];
      into.requests += bucket.requests;
      into.throttled += bucket.throttled;
      into.failed += bucket.failed;
    }
    json buckets = json::array();
    for (const auto& [index, bucket] : merged)
      buckets.push_back({index, bucket.requests, bucket.throttled, bucket.failed});
    timeline = {{"startMs", first * 1000}, {"bucketSeconds", width}, {"buckets", std::move(buckets)}};
  }
  auto transaction = m_store.transaction();
  m_store.set_run_summary(run_id, json{{"outcome", std::string(state::to_string(status))},
                                       {"message", result.message},
                                       {"counters", counters},
                                       {"timeline", std::move(timeline)}}
                                      .dump());
  m_store.set_run_status(run_id, status);
  m_store.add_event(run_id, std::string(state::to_string(status)),
                    result.message.empty() ? "every step finished" : result.message);
  m_store.release_lock(run_id);
  transaction.commit();
}

} // namespace fleetrun::runner
