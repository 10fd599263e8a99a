// A step of a run, from its batches' planning to its last answer: the
// coordinator's loop (runner/coordinator.hpp says what it does, in order).
#include "runner/coordinator.hpp"

#include "jobs/step_kind.hpp"
#include "text/text_format.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

namespace fleetrun::runner {

using nlohmann::json;
using state::BatchRecord;
using state::BatchStatus;

namespace {

constexpr auto k_heartbeat_interval = std::chrono::seconds(5);

void write_log(const Note& note)
{
  switch (note.level) {
  case Note::Level::debug: spdlog::debug("{}", note.message); break;
  case Note::Level::info: spdlog::info("{}", note.message); break;
  case Note::Level::warn: spdlog::warn("{}", note.message); break;
  case Note::Level::error: spdlog::error("{}", note.message); break;
  }
}

StoredRequest stored_request_of(const BatchRecord& batch)
{
  StoredRequest stored;
  stored.device_ids = json::parse(batch.device_ids_json).get<std::vector<std::string>>();
  stored.method = batch.method;
  stored.path = batch.path;
  stored.body = batch.body;
  stored.hash = batch.request_hash;
  return stored;
}

} // namespace

// ---- one step ----------------------------------------------------------------------

class Coordinator::StepLoop {
public:
  StepLoop(Coordinator& owner, const std::string& run_id, state::StepRecord& step)
      : m_owner(owner), m_store(owner.m_store), m_dispatcher(owner.m_dispatcher), m_run_id(run_id), m_step(step),
        m_plan_step(owner.m_plan.steps.at(static_cast<std::size_t>(step.index))),
        m_kind(jobs::make_step_kind(m_plan_step))
  {
    const auto& settings = owner.m_settings;
    m_policy.backoff = settings.backoff;
    m_policy.job_timeout =
        std::chrono::seconds(m_plan_step.job_timeout_seconds.value_or(owner.m_plan.options.job_timeout_seconds));
    m_policy.job_poll_max = settings.job_poll_max;
    m_policy.max_retry_after = settings.max_retry_after;
    m_policy.run_id = run_id;
    m_policy.step_id = step.step_id;
  }

  // Runs the step until every batch is final or something stops it.
  // The step's end: `failures_only` when every batch is final and some failed.
  struct End {
    RunResult result;
    bool failures_only = false;
  };

  End run()
  {
    if (m_step.status == state::StepStatus::pending) plan_batches();
    m_policy.batch_count = m_step.batch_count;
    // The batches' progress stays in memory, their requests (ids and bodies)
    // in the state file until they are sent: memory does not grow with the fleet.
    for (auto& batch : m_store.reader().batches(m_run_id, m_step.index, false)) {
      const int index = batch.batch_index;
      auto& machine = m_machines.try_emplace(index, std::move(batch), *m_kind, m_policy).first->second;
      // Counted once here, and carry_out counts only what changes from now on.
      m_counted_failed[index] = machine.failed_devices();
      m_failed_devices += m_counted_failed[index];
    }
    // A resumed step whose failures are over its budget already sends nothing
    // new, but still follows its enqueued jobs.
    if (m_failed_devices > 0) check_failure_budget();
    for (auto& [index, machine] : m_machines) carry_out(index, machine.start(m_owner.moment()));
    loop();
    return finish_step();
  }

private:
  // Plans the step's batches in one transaction: a crash leaves either no
  // batches (and the step pending) or all of them. Batches are written as
  // the device list is read, so no more than one is held in memory.
  void plan_batches()
  {
    const int size = m_plan_step.batch_size.value_or(m_kind->max_batch_size());
    auto transaction = m_store.transaction();
    const std::int64_t base_time = m_owner.m_services.clock.wall_ms();
    std::int64_t devices = 0;
    int batches = 0;
    const auto add_batch = [&](const std::vector<std::string>& ids) {
      const jobs::Request request = m_kind->build(ids, {m_run_id, base_time + batches});
      BatchRecord batch;
      batch.run_id = m_run_id;
      batch.step_index = m_step.index;
      batch.batch_index = batches++;
      batch.device_ids_json = json(ids).dump();
      batch.device_count = static_cast<std::int64_t>(ids.size());
      batch.method = request.method;
      batch.path = request.path;
      batch.body = request.body.value_or("");
      batch.request_hash = request_hash(batch.method, batch.path, batch.body);
      m_store.insert_batch(batch);
      devices += batch.device_count;
    };
    if (m_kind->uses_devices()) {
      // Devices an earlier delete step of the plan takes away are left out, as
      // the preview showed (plan_simulation.hpp).
      std::vector<std::string> group;
      m_store.reader().for_each_device_excluding(
          m_step.snapshot_run_id, m_step.query_name,
          plans::deleted_before(m_owner.m_plan, static_cast<std::size_t>(m_step.index)), [&](const std::string& id) {
            group.push_back(id);
            if (static_cast<int>(group.size()) == size) add_batch(std::exchange(group, {}));
          });
      if (!group.empty()) add_batch(group);
    } else {
      const auto listed = m_plan_step.params().value("devices", json::array());
      for (std::size_t i = 0; i < listed.size(); ++i) add_batch({std::to_string(i)});
    }
    m_step.status = state::StepStatus::running;
    m_step.device_count = devices;
    m_step.batch_count = batches;
    m_step.started_ms = m_owner.m_services.clock.wall_ms();
    m_store.update_step(m_step);
    m_store.add_event(m_run_id, "step_started",
                      "step " + m_step.step_id + ": " + std::to_string(devices) + " devices in " +
                          std::to_string(batches) + " batches");
    transaction.commit();
  }

  // ---- the loop ------------------------------------------------------------------

  // What the step has done so far, for the progress observer.
  ProgressSnapshot progress(SteadyTime now, bool done) const
  {
    ProgressSnapshot snapshot;
    snapshot.step_id = m_step.step_id;
    snapshot.action = std::string(plans::action_name(m_plan_step.action));
    snapshot.step_number = m_step.index + 1;
    snapshot.step_count = static_cast<int>(m_owner.m_plan.steps.size());
    snapshot.devices_total = m_step.device_count;
    for (const auto& [index, machine] : m_machines) {
      const auto& record = machine.record();
      if (record.status == state::BatchStatus::done || record.status == state::BatchStatus::failed)
        snapshot.devices_finished += record.device_count;
    }
    snapshot.devices_failed = m_failed_devices;
    const auto& counters = m_owner.m_allowance.counters;
    snapshot.step_requests = counters.requests - m_requests_at_start;
    snapshot.throttled = counters.throttled;
    snapshot.retries = counters.retries;
    snapshot.step_elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - m_started);
    snapshot.run_elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - m_owner.m_execute_started);
    snapshot.step_done = done;
    return snapshot;
  }

  void loop()
  {
    auto& services = m_owner.m_services;
    auto next_heartbeat = services.clock.now();
    m_started = services.clock.now();
    m_requests_at_start = m_owner.m_allowance.counters.requests;
    auto next_progress = m_started + m_owner.m_progress_every;
    SteadyTime drain_until{};
    while (true) {
      auto now = services.clock.now();
      if (services.stop_requested.load() && !m_stopping) {
        m_stopping = true;
        drain_until = now + m_owner.m_settings.drain_deadline;
        m_store.add_event(m_run_id, "stop_requested",
                          "stop requested: no new requests; waiting for " + std::to_string(m_dispatcher.in_flight()) +
                              " in flight");
      }
      // An abort sends nothing new but follows the jobs already enqueued to
      // their end: their devices are changed on the server either way, and the
      // run's counts must say so. A stop or a halt leaves them to resume.
      const Sending sending = m_stopping || m_halt != Halt::none ? Sending::nothing
                              : m_aborting                       ? Sending::job_follow_ups
                                                                 : Sending::everything;
      SteadyTime wake = now + std::chrono::seconds(1);
      if (sending != Sending::nothing) wake = std::min(wake, dispatch_due(now, sending));
      if (m_dispatcher.in_flight() == 0 && !has_due_work(sending)) break;
      if (m_stopping) {
        if (now >= drain_until) break;
        wake = std::min(wake, drain_until);
      }
      if (auto answer = m_dispatcher.wait(wake)) take(std::move(*answer));
      m_owner.check_state_file();
      now = services.clock.now();
      if (now >= next_heartbeat) {
        m_owner.heartbeat(m_run_id);
        next_heartbeat = now + k_heartbeat_interval;
      }
      if (m_owner.m_progress && now >= next_progress) {
        m_owner.m_progress(progress(now, false));
        next_progress = now + m_owner.m_progress_every;
      }
    }
    if (m_owner.m_progress) m_owner.m_progress(progress(services.clock.now(), true));
  }

  enum class Sending { nothing, job_follow_ups, everything };

  static bool follows_a_job(Purpose purpose) { return purpose == Purpose::poll_job || purpose == Purpose::list_jobs; }

  // Whether anything scheduled may still be sent.
  bool has_due_work(Sending sending) const
  {
    if (sending == Sending::nothing) return false;
    if (sending == Sending::everything) return !m_timers.empty();
    return std::any_of(m_timers.begin(), m_timers.end(),
                       [](const auto& timer) { return follows_a_job(timer.second.second.purpose); });
  }

  // Sends what is due while slots and the rate limit allow; returns when to look again.
  SteadyTime dispatch_due(SteadyTime now, Sending sending)
  {
    SteadyTime wake = now + std::chrono::seconds(1);
    while (true) {
      auto first = m_timers.begin();
      if (sending == Sending::job_follow_ups) {
        first = std::find_if(m_timers.begin(), m_timers.end(),
                             [](const auto& timer) { return follows_a_job(timer.second.second.purpose); });
      }
      // Whatever else is scheduled stays where it is, for resume.
      if (first == m_timers.end()) return wake;
      if (first->first > now) return first->first;
      // Job polls never crowd out batches: while a batch waits to be sent,
      // a poll takes at most one request in ten.
      if (follows_a_job(first->second.second.purpose) && sending == Sending::everything && m_poll_credit < 1) {
        const auto send = std::find_if(std::next(first), m_timers.end(), [&](const auto& timer) {
          return timer.first <= now && timer.second.second.purpose == Purpose::send;
        });
        if (send != m_timers.end()) first = send;
      }
      if (!m_dispatcher.try_take(now, wake)) return wake;
      auto [batch_index, want] = std::move(first->second);
      m_timers.erase(first);
      BatchMachine& machine = m_machines.at(batch_index);
      std::optional<StoredRequest> stored;
      if (BatchMachine::needs_stored_request(want.purpose)) stored = read_request(batch_index);
      Dispatch dispatch = machine.dispatch(want, stored ? &*stored : nullptr, m_owner.moment());
      carry_out(batch_index, std::move(dispatch.effects)); // the intent is committed here
      const Purpose purpose = want.purpose;
      const Ticket ticket = m_dispatcher.send(std::move(dispatch.request));
      m_in_flight.emplace(ticket, std::make_pair(batch_index, std::move(want)));
      auto& counters = m_owner.m_allowance.counters;
      switch (purpose) {
      case Purpose::send:
        ++counters.batch_requests;
        m_poll_credit = std::min(3.0, m_poll_credit + 0.1);
        break;
      case Purpose::poll_job:
      case Purpose::list_jobs:
        ++counters.job_poll_requests;
        m_poll_credit = std::max(0.0, m_poll_credit - 1);
        break;
      case Purpose::read_history:
      case Purpose::look_up_created: ++counters.reconciliation_requests; break;
      }
    }
  }

  void take(Answer answer)
  {
    auto found = m_in_flight.find(answer.ticket);
    if (found == m_in_flight.end()) return; // not ours (abandoned earlier)
    auto [batch_index, want] = std::move(found->second);
    m_in_flight.erase(found);
    carry_out(batch_index,
              m_machines.at(batch_index).on_answer(want, answer.result, m_owner.moment(), m_owner.m_allowance));
    if (const auto why = m_dispatcher.throttled_too_long(); why && m_halt == Halt::none) {
      m_halt = Halt::asked_to_wait;
      m_halt_message = *why;
    }
  }

  // Carries out what a batch's machine asked for (batch_machine.hpp, Effects).
  void carry_out(int batch_index, Effects effects)
  {
    BatchMachine& machine = m_machines.at(batch_index);
    const std::int64_t failed_before = m_counted_failed[batch_index];
    {
      auto transaction = m_store.transaction();
      if (effects.replace_request) {
        BatchRecord full = machine.record();
        full.device_ids_json = json(effects.replace_request->device_ids).dump();
        full.method = effects.replace_request->method;
        full.path = effects.replace_request->path;
        full.body = effects.replace_request->body;
        full.request_hash = effects.replace_request->hash;
        m_store.update_batch(full);
      } else if (effects.persist) {
        m_store.update_batch_progress(machine.record());
      }
      for (const auto& note : effects.notes) {
        if (!note.event.empty()) m_store.add_event(m_run_id, note.event, note.message);
      }
      transaction.commit();
    }
    for (const auto& note : effects.notes) write_log(note);
    for (auto& scheduled : effects.schedule) {
      m_timers.emplace(scheduled.due, std::make_pair(batch_index, std::move(scheduled.want)));
    }
    if (effects.left_unfinished) m_unfinished = true;
    if (effects.halt != Halt::none && m_halt == Halt::none) {
      m_halt = effects.halt;
      m_halt_message = effects.halt_message;
    }
    const std::int64_t failed_now = machine.failed_devices();
    if (failed_now != failed_before) {
      m_failed_devices += failed_now - failed_before;
      m_counted_failed[batch_index] = failed_now;
      check_failure_budget();
    }
    if (effects.needs_stored_request) {
      carry_out(batch_index, machine.on_stored_request(read_request(batch_index), m_owner.moment()));
    }
  }

  StoredRequest read_request(int batch_index)
  {
    auto stored = m_store.reader().batch(m_run_id, m_step.index, batch_index);
    if (!stored) {
      throw state::StateFailure("step " + m_step.step_id + " batch " + std::to_string(batch_index + 1) +
                                " is missing from the state file " + m_store.path());
    }
    return stored_request_of(*stored);
  }

  void check_failure_budget()
  {
    if (m_aborting || m_step.device_count == 0) return;
    const double percent = 100.0 * static_cast<double>(m_failed_devices) / static_cast<double>(m_step.device_count);
    const double limit = m_plan_step.max_failure_percent.value_or(m_owner.m_settings.max_failure_percent);
    if (percent <= limit) return;
    m_aborting = true;
    const std::string message = "step " + m_step.step_id + ": " + std::to_string(m_failed_devices) + " of " +
                                std::to_string(m_step.device_count) + " devices failed, above the limit of " +
                                fmt::format("{:g}", limit) +
                                "%; no new requests, jobs already enqueued are followed to their end (`fleetrun "
                                "resume --max-failure-percent N` with a higher N goes on)";
    m_store.add_event(m_run_id, "aborted", message);
    spdlog::error("{}", message);
  }

  // ---- the end of a step -----------------------------------------------------------

  End finish_step()
  {
    std::map<std::string, std::int64_t> by_status;
    json totals = json::object();
    bool all_final = true;
    bool any_failed = false;
    for (const auto& [index, machine] : m_machines) {
      const BatchRecord& batch = machine.record();
      ++by_status[std::string(state::to_string(batch.status))];
      if (machine.is_final()) {
        const json outcome = json::parse(batch.outcome_json, nullptr, false);
        if (outcome.is_object()) {
          for (const auto& [key, value] : outcome.items()) {
            if (value.is_number_integer()) totals[key] = totals.value(key, std::int64_t{0}) + value.get<std::int64_t>();
          }
        }
      }
      if (batch.status == BatchStatus::failed || batch.status == BatchStatus::unknown) any_failed = true;
      if (!machine.is_final()) all_final = false;
    }
    m_step.result_json = json{{"batches", by_status}, {"totals", totals}, {"failedDevices", m_failed_devices}}.dump();
    if (all_final) {
      m_step.status = (any_failed || m_failed_devices > 0) ? state::StepStatus::failed : state::StepStatus::done;
      m_step.finished_ms = m_owner.m_services.clock.wall_ms();
    }
    m_store.update_step(m_step);
    if (all_final) {
      m_store.add_event(m_run_id, "step_finished",
                        "step " + m_step.step_id + " " + std::string(state::to_string(m_step.status)) + ": " +
                            text::counts_in_words(totals));
    }
    if (m_halt == Halt::auth_failed) return {{RunOutcome::auth_failed, m_halt_message}};
    if (m_halt == Halt::plan_changed) return {{RunOutcome::state_mismatch, m_halt_message}};
    if (m_halt == Halt::asked_to_wait) return {{RunOutcome::api_paused, m_halt_message}};
    if (m_stopping) return {{RunOutcome::interrupted, "stopped by a signal; `fleetrun resume` continues"}};
    if (m_aborting) return {{RunOutcome::failed, "too many failures in step " + m_step.step_id}};
    if (!all_final || m_unfinished) {
      return {
          {RunOutcome::failed, "step " + m_step.step_id + " has batches whose outcome is not known yet; see status"}};
    }
    if (m_step.status == state::StepStatus::failed) {
      return {{RunOutcome::failed,
               "step " + m_step.step_id + " had failures; later steps were not started (--keep-going runs them)"},
              true};
    }
    return {};
  }

  Coordinator& m_owner;
  state::RunJournal& m_store;
  Dispatcher& m_dispatcher;
  const std::string& m_run_id;
  state::StepRecord& m_step;
  const plans::Step& m_plan_step;
  std::unique_ptr<jobs::StepKind> m_kind;
  MachinePolicy m_policy;

  std::map<int, BatchMachine> m_machines;
  std::map<int, std::int64_t> m_counted_failed;
  std::int64_t m_failed_devices = 0;
  SteadyTime m_started{};
  std::int64_t m_requests_at_start = 0;
  std::multimap<SteadyTime, std::pair<int, Want>> m_timers;
  std::map<Ticket, std::pair<int, Want>> m_in_flight;
  double m_poll_credit = 1; // polls allowed while batches wait (one in ten requests)
  bool m_stopping = false;
  bool m_aborting = false;
  bool m_unfinished = false;
  Halt m_halt = Halt::none;
  std::string m_halt_message;
};

// ---- the steps, in order -----------------------------------------------------------

RunResult Coordinator::execute(const std::string& run_id)
{
  const auto run = m_store.reader().run(run_id);
  const auto now = m_services.clock.now();
  m_execute_started = now;
  // A resumed run starts where it (or the run before it) left the rate; a
  // run begun in this process already did, and learned since.
  if (run && run->learned_rate > 0 && m_started_from <= 0) {
    m_services.limiter.start_at(run->learned_rate, now);
    m_started_from = run->learned_rate;
  }
  m_services.limiter.allow_in_flight(std::min(m_settings.concurrency, 4));
  RunResult result;
  bool had_failures = false;
  for (auto& step : m_store.reader().steps(run_id)) {
    if (step.status == state::StepStatus::done) continue;
    StepLoop loop(*this, run_id, step);
    const StepLoop::End end = loop.run();
    if (end.failures_only && m_settings.keep_going) {
      had_failures = true;
      continue;
    }
    if (end.result.outcome != RunOutcome::completed) {
      result = end.result;
      break;
    }
    if (m_services.stop_requested.load()) {
      result = {RunOutcome::interrupted, "stopped by a signal; `fleetrun resume` continues"};
      break;
    }
  }
  if (result.outcome == RunOutcome::completed && had_failures) {
    result = {RunOutcome::failed, "some steps had failures (--keep-going ran the later ones)"};
  }
  m_store.set_learned_rate(run_id, m_services.limiter.rate_to_store(m_started_from));
  // The loop already waited for what was in flight (up to the drain deadline);
  // anything still inside a request now is left to finish on its own.
  m_services.sender.stop(std::chrono::milliseconds(1000));
  return result;
}

} // namespace fleetrun::runner
