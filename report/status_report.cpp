#include "report/status_report.hpp"

#include "jobs/step_kind.hpp"
#include "losant/time_format.hpp"
#include "text/text_format.hpp"

#include <cstdio>
#include <map>
#include <sstream>

namespace fleetrun::report {

using text::with_commas;

using nlohmann::json;

json status_facts(const state::StateStore& store, const state::RunRecord& run)
{
  json facts = {{"run", run.id},
                {"kind", std::string(state::to_string(run.kind))},
                {"status", std::string(state::to_string(run.status))},
                {"plan", run.plan_path},
                {"application", run.application_id},
                {"apiUrl", run.api_url},
                {"created", losant::format_iso8601_ms(run.created_ms)},
                {"updated", losant::format_iso8601_ms(run.updated_ms)},
                {"learnedRate", run.learned_rate}};
  if (!run.preview_run_id.empty()) facts["fromPreview"] = run.preview_run_id;
  facts["summary"] = json::parse(run.summary_json);
  if (const auto holder = store.lock_holder(run.id)) {
    facts["lock"] = {{"pid", holder->pid},
                     {"host", holder->host},
                     {"heartbeat", losant::format_iso8601_ms(holder->heartbeat_ms)},
                     {"alive", state::lock_holder_alive(*holder, losant::now_epoch_ms())}};
  }
  json steps = json::array();
  for (const auto& step : store.steps(run.id)) {
    std::map<std::string, std::int64_t> batches;
    std::map<std::string, std::int64_t> devices;
    json problems = json::array();
    json jobs_in_progress = json::array();
    for (const auto& batch : store.batches(run.id, step.index, false)) {
      // For people: pending = planned or waiting to retry; in flight = sending.
      std::string state_name(state::to_string(batch.status));
      if (batch.status == state::BatchStatus::planned || batch.status == state::BatchStatus::retry_wait)
        state_name = "pending";
      if (batch.status == state::BatchStatus::sending) state_name = "in flight";
      ++batches[state_name];
      if (batch.status == state::BatchStatus::failed || batch.status == state::BatchStatus::done) {
        // Per device: a job that ended errored part-way did some of its devices.
        const auto failed = jobs::failed_devices_of(json::parse(batch.outcome_json, nullptr, false), batch.device_count,
                                                    batch.status == state::BatchStatus::failed);
        if (failed > 0) devices["failed"] += failed;
        if (batch.device_count - failed > 0) devices["done"] += batch.device_count - failed;
      } else {
        devices[state_name] += batch.device_count;
      }
      if (!batch.error.empty() && batch.status != state::BatchStatus::done) {
        problems.push_back({{"batch", batch.batch_index + 1}, {"status", state_name}, {"error", batch.error}});
      }
      if (batch.status == state::BatchStatus::enqueued) {
        jobs_in_progress.push_back({{"batch", batch.batch_index + 1},
                                    {"jobId", batch.job_id},
                                    {"jobStatus", batch.job_status},
                                    {"progress", batch.job_progress}});
      }
    }
    json entry = {{"index", step.index + 1},
                  {"id", step.step_id},
                  {"action", step.action},
                  {"query", step.query_name},
                  {"status", std::string(state::to_string(step.status))},
                  {"devices", step.device_count},
                  {"batchCount", step.batch_count},
                  {"batches", batches},
                  {"devicesByState", devices},
                  {"result", json::parse(step.result_json)}};
    if (step.started_ms > 0) entry["started"] = losant::format_iso8601_ms(step.started_ms);
    if (step.finished_ms > 0) {
      entry["finished"] = losant::format_iso8601_ms(step.finished_ms);
      entry["seconds"] = static_cast<double>(step.finished_ms - step.started_ms) / 1000.0;
    }
    if (!problems.empty()) entry["problems"] = std::move(problems);
    if (!jobs_in_progress.empty()) entry["jobs"] = std::move(jobs_in_progress);
    steps.push_back(std::move(entry));
  }
  facts["steps"] = std::move(steps);
  json events = json::array();
  for (const auto& event : store.events(run.id)) {
    events.push_back(
        {{"at", losant::format_iso8601_ms(event.at_ms)}, {"kind", event.kind}, {"message", event.message}});
  }
  facts["events"] = std::move(events);
  return facts;
}

std::string render_status(const json& facts)
{
  std::ostringstream out;
  out << "run " << facts["run"].get<std::string>() << " (" << facts["kind"].get<std::string>()
      << "): " << facts["status"].get<std::string>() << "\n";
  out << "  plan " << facts["plan"].get<std::string>() << ", application " << facts["application"].get<std::string>()
      << " at " << facts["apiUrl"].get<std::string>() << "\n";
  if (facts.contains("fromPreview"))
    out << "  devices from preview " << facts["fromPreview"].get<std::string>() << "\n";
  if (facts["learnedRate"].get<double>() > 0) {
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.1f", facts["learnedRate"].get<double>());
    out << "  rate limit learned: " << rate << " requests/s (later runs against this API start there)\n";
  }
  if (facts.contains("lock")) {
    out << "  lock held by pid " << facts["lock"]["pid"].get<std::int64_t>() << " on "
        << facts["lock"]["host"].get<std::string>() << (facts["lock"]["alive"].get<bool>() ? " (running)" : " (gone)")
        << "\n";
  }
  for (const auto& step : facts["steps"]) {
    out << "  " << step["index"].get<int>() << ". " << step["id"].get<std::string>() << " "
        << step["action"].get<std::string>() << ": " << step["status"].get<std::string>() << ", "
        << with_commas(step["devices"].get<std::int64_t>()) << " devices";
    if (!step["batches"].empty()) {
      out << "; batches:";
      for (const auto& [name, count] : step["batches"].items()) out << " " << name << " " << count.get<std::int64_t>();
    }
    const auto& totals = step["result"].value("totals", json::object());
    if (!totals.empty()) out << "; " << text::counts_in_words(totals);
    out << "\n";
    for (const auto& job : step.value("jobs", json::array())) {
      out << "       batch " << job["batch"].get<int>() << ": job " << job["jobId"].get<std::string>() << " "
          << job["jobStatus"].get<std::string>() << " " << job["progress"].get<std::string>() << "\n";
    }
    for (const auto& problem : step.value("problems", json::array())) {
      out << "       batch " << problem["batch"].get<int>() << " " << problem["status"].get<std::string>() << ": "
          << problem["error"].get<std::string>() << "\n";
    }
  }
  const auto& summary = facts["summary"];
  if (summary.contains("counters")) out << "  requests: " << text::counters_in_words(summary["counters"]) << "\n";
  const auto& events = facts["events"];
  const std::size_t first = events.size() > 8 ? events.size() - 8 : 0;
  if (!events.empty()) out << "  events" << (first > 0 ? " (last 8)" : "") << ":\n";
  for (std::size_t i = first; i < events.size(); ++i) {
    out << "    " << events[i]["at"].get<std::string>() << " " << events[i]["kind"].get<std::string>() << ": "
        << events[i]["message"].get<std::string>() << "\n";
  }
  return out.str();
}

} // namespace fleetrun::report
