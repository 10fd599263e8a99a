#include "report/run_facts.hpp"

#include "jobs/step_kind.hpp"
#include "losant/time_format.hpp"

namespace fleetrun::report {

using nlohmann::json;

namespace {

// For people: pending = planned or waiting to retry; in flight = sending.
std::string state_for_people(state::BatchStatus status)
{
  if (status == state::BatchStatus::planned || status == state::BatchStatus::retry_wait) return "pending";
  if (status == state::BatchStatus::sending) return "in flight";
  return std::string(state::to_string(status));
}

StepFacts step_facts(const state::StateStore& store, const std::string& run_id, const state::StepRecord& step)
{
  StepFacts out;
  out.index = step.index + 1;
  out.id = step.step_id;
  out.action = step.action;
  out.query = step.query_name;
  out.status = std::string(state::to_string(step.status));
  out.devices = step.device_count;
  out.batch_count = step.batch_count;
  out.started_ms = step.started_ms;
  out.finished_ms = step.finished_ms;
  out.result = json::parse(step.result_json, nullptr, false);
  if (out.result.is_discarded()) out.result = json::object();
  if (const auto totals = out.result.find("totals"); totals != out.result.end() && totals->is_object()) {
    for (const auto& [name, value] : totals->items()) {
      if (value.is_number_integer()) out.totals[name] = value.get<std::int64_t>();
    }
  }
  for (const auto& batch : store.batches(run_id, step.index, false)) {
    const std::string state_name = state_for_people(batch.status);
    ++out.batches[state_name];
    if (batch.status == state::BatchStatus::failed || batch.status == state::BatchStatus::done) {
      const auto failed = jobs::failed_devices_of(json::parse(batch.outcome_json, nullptr, false), batch.device_count,
                                                  batch.status == state::BatchStatus::failed);
      if (failed > 0) out.devices_by_state["failed"] += failed;
      if (batch.device_count - failed > 0) out.devices_by_state["done"] += batch.device_count - failed;
    } else {
      out.devices_by_state[state_name] += batch.device_count;
    }
    if (!batch.error.empty() && batch.status != state::BatchStatus::done)
      out.problems.push_back({batch.batch_index + 1, state_name, batch.error});
    if (batch.status == state::BatchStatus::enqueued)
      out.jobs.push_back({batch.batch_index + 1, batch.job_id, batch.job_status, batch.job_progress});
  }
  return out;
}

Timeline timeline_of(const json& summary)
{
  Timeline out;
  const auto found = summary.find("timeline");
  if (found == summary.end() || !found->is_object()) return out;
  const json& timeline = *found;
  out.start_ms = timeline.value("startMs", std::int64_t{0});
  out.bucket_seconds = std::max<std::int64_t>(1, timeline.value("bucketSeconds", std::int64_t{1}));
  for (const auto& bucket : timeline.value("buckets", json::array())) {
    if (!bucket.is_array() || bucket.size() < 4) continue;
    out.buckets.push_back({bucket[0].get<std::int64_t>(), bucket[1].get<std::int64_t>(), bucket[2].get<std::int64_t>(),
                           bucket[3].get<std::int64_t>()});
  }
  return out;
}

} // namespace

RunFacts run_facts(const state::StateStore& store, const state::RunRecord& run)
{
  RunFacts facts;
  facts.run = run.id;
  facts.kind = std::string(state::to_string(run.kind));
  facts.status = std::string(state::to_string(run.status));
  facts.plan = run.plan_path;
  facts.application = run.application_id;
  facts.api_url = run.api_url;
  facts.created_ms = run.created_ms;
  facts.updated_ms = run.updated_ms;
  facts.learned_rate = run.learned_rate;
  facts.from_preview = run.preview_run_id;
  facts.summary = json::parse(run.summary_json, nullptr, false);
  if (facts.summary.is_discarded()) facts.summary = json::object();
  if (const auto counters = facts.summary.find("counters"); counters != facts.summary.end() && counters->is_object())
    facts.counters = *counters;
  facts.timeline = timeline_of(facts.summary);
  if (const auto holder = store.lock_holder(run.id)) {
    facts.lock = LockFacts{holder->pid, holder->host, holder->heartbeat_ms,
                           state::lock_holder_alive(*holder, losant::now_epoch_ms())};
  }
  for (const auto& step : store.steps(run.id)) facts.steps.push_back(step_facts(store, run.id, step));
  for (const auto& event : store.events(run.id)) facts.events.push_back({event.at_ms, event.kind, event.message});
  return facts;
}

json to_json(const RunFacts& facts)
{
  json out = {{"run", facts.run},
              {"kind", facts.kind},
              {"status", facts.status},
              {"plan", facts.plan},
              {"application", facts.application},
              {"apiUrl", facts.api_url},
              {"created", losant::format_iso8601_ms(facts.created_ms)},
              {"updated", losant::format_iso8601_ms(facts.updated_ms)},
              {"learnedRate", facts.learned_rate},
              {"summary", facts.summary}};
  if (!facts.from_preview.empty()) out["fromPreview"] = facts.from_preview;
  if (facts.lock) {
    out["lock"] = {{"pid", facts.lock->pid},
                   {"host", facts.lock->host},
                   {"heartbeat", losant::format_iso8601_ms(facts.lock->heartbeat_ms)},
                   {"alive", facts.lock->alive}};
  }
  json steps = json::array();
  for (const auto& step : facts.steps) {
    json entry = {{"index", step.index},
                  {"id", step.id},
                  {"action", step.action},
                  {"query", step.query},
                  {"status", step.status},
                  {"devices", step.devices},
                  {"batchCount", step.batch_count},
                  {"batches", step.batches},
                  {"devicesByState", step.devices_by_state},
                  {"result", step.result}};
    if (step.started_ms > 0) entry["started"] = losant::format_iso8601_ms(step.started_ms);
    if (step.finished_ms > 0) {
      entry["finished"] = losant::format_iso8601_ms(step.finished_ms);
      entry["seconds"] = static_cast<double>(step.finished_ms - step.started_ms) / 1000.0;
    }
    if (!step.problems.empty()) {
      json problems = json::array();
      for (const auto& p : step.problems)
        problems.push_back({{"batch", p.batch}, {"status", p.status}, {"error", p.error}});
      entry["problems"] = std::move(problems);
    }
    if (!step.jobs.empty()) {
      json jobs = json::array();
      for (const auto& j : step.jobs)
        jobs.push_back(
            {{"batch", j.batch}, {"jobId", j.job_id}, {"jobStatus", j.job_status}, {"progress", j.progress}});
      entry["jobs"] = std::move(jobs);
    }
    steps.push_back(std::move(entry));
  }
  out["steps"] = std::move(steps);
  json events = json::array();
  for (const auto& event : facts.events) {
    events.push_back(
        {{"at", losant::format_iso8601_ms(event.at_ms)}, {"kind", event.kind}, {"message", event.message}});
  }
  out["events"] = std::move(events);
  return out;
}

json to_json(const std::vector<DeviceNotDone>& devices)
{
  json out = json::array();
  for (const auto& d : devices) {
    out.push_back(
        {{"step", d.step}, {"batch", d.batch}, {"device", d.device}, {"outcome", d.outcome}, {"reason", d.reason}});
  }
  return out;
}

} // namespace fleetrun::report
