#include "runner/run_report.hpp"

#include "jobs/step_kind.hpp"
#include "runner/text_format.hpp"

#include <sstream>

namespace fleetrun::runner {

using nlohmann::json;

namespace {

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(const std::string& text)
{
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// A Markdown table cell: no line breaks, pipes escaped.
std::string cell(const std::string& text)
{
  std::string out;
  for (const char c : text) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string outcome_of(const state::BatchRecord& batch, std::int64_t& failed)
{
  failed = 0;
  switch (batch.status) {
  case state::BatchStatus::done:
  case state::BatchStatus::failed: {
    failed = jobs::failed_devices_of(json::parse(batch.outcome_json, nullptr, false), batch.device_count,
                                     batch.status == state::BatchStatus::failed);
    if (failed == 0) return "done";
    return failed == batch.device_count ? "failed" : "part_failed";
  }
  case state::BatchStatus::planned:
  case state::BatchStatus::retry_wait: return "pending";
  case state::BatchStatus::sending: return "in_flight";
  case state::BatchStatus::enqueued: return "enqueued";
  case state::BatchStatus::unknown: return "unknown";
  }
  return "unknown";
}

// Calls `visit(step, batch, device id, outcome, reason)` for every device of every step.
template <class Visit>
void for_each_device_outcome(const state::StateStore& store, const state::RunRecord& run, Visit visit)
{
  for (const auto& step : store.steps(run.id)) {
    for (const auto& batch : store.batches(run.id, step.index, true)) {
      std::int64_t failed = 0;
      const std::string outcome = outcome_of(batch, failed);
      std::string reason = batch.error;
      if (outcome == "part_failed") {
        reason = "the job failed " + std::to_string(failed) + " of the batch's " + std::to_string(batch.device_count) +
                 " devices (its job log counts them, it does not name them)" +
                 (batch.error.empty() ? "" : ": " + batch.error);
      }
      const json ids = json::parse(batch.device_ids_json, nullptr, false);
      if (!ids.is_array()) continue;
      for (const auto& id : ids)
        visit(step, batch, id.is_string() ? id.get<std::string>() : id.dump(), outcome, reason);
    }
  }
}

} // namespace

void write_report_csv(std::ostream& out, const state::StateStore& store, const state::RunRecord& run)
{
  out << "step,action,batch,device,outcome,http_status,job_id,reason\r\n";
  for_each_device_outcome(store, run,
                          [&](const state::StepRecord& step, const state::BatchRecord& batch, const std::string& device,
                              const std::string& outcome, const std::string& reason) {
                            out << csv_field(step.step_id) << ',' << csv_field(step.action) << ','
                                << batch.batch_index + 1 << ',' << csv_field(device) << ',' << outcome << ','
                                << (batch.http_status > 0 ? std::to_string(batch.http_status) : "") << ','
                                << csv_field(batch.job_id) << ',' << csv_field(outcome == "done" ? "" : reason)
                                << "\r\n";
                          });
}

json devices_not_done(const state::StateStore& store, const state::RunRecord& run)
{
  json out = json::array();
  for_each_device_outcome(store, run,
                          [&](const state::StepRecord& step, const state::BatchRecord& batch, const std::string& device,
                              const std::string& outcome, const std::string& reason) {
                            if (outcome == "done") return;
                            out.push_back({{"step", step.step_id},
                                           {"batch", batch.batch_index + 1},
                                           {"device", device},
                                           {"outcome", outcome},
                                           {"reason", reason}});
                          });
  return out;
}

std::string render_report_markdown(const json& facts, const json& not_done, std::size_t listed)
{
  std::ostringstream out;
  out << "# fleetrun run " << facts["run"].get<std::string>() << ": " << facts["status"].get<std::string>() << "\n\n";
  out << "| | |\n|---|---|\n";
  out << "| plan | `" << cell(facts["plan"].get<std::string>()) << "` |\n";
  out << "| application | " << cell(facts["application"].get<std::string>()) << " at "
      << cell(facts["apiUrl"].get<std::string>()) << " |\n";
  out << "| kind | " << facts["kind"].get<std::string>() << " |\n";
  out << "| started | " << facts["created"].get<std::string>() << " |\n";
  out << "| last change | " << facts["updated"].get<std::string>() << " |\n";
  if (facts.contains("fromPreview"))
    out << "| devices from preview | " << facts["fromPreview"].get<std::string>() << " |\n";
  out << "\n## Steps\n\n| # | step | action | devices | done | failed | other | started | seconds |\n"
      << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& step : facts["steps"]) {
    std::int64_t done = 0;
    std::int64_t failed = 0;
    std::int64_t other = 0;
    for (const auto& [state, count] : step["devicesByState"].items()) {
      if (state == "done")
        done += count.get<std::int64_t>();
      else if (state == "failed")
        failed += count.get<std::int64_t>();
      else
        other += count.get<std::int64_t>();
    }
    char seconds[32] = "";
    if (step.contains("seconds")) std::snprintf(seconds, sizeof seconds, "%.1f", step["seconds"].get<double>());
    out << "| " << step["index"].get<int>() << " | " << cell(step["id"].get<std::string>()) << " | "
        << step["action"].get<std::string>() << " | " << with_commas(step["devices"].get<std::int64_t>()) << " | "
        << with_commas(done) << " | " << with_commas(failed) << " | " << with_commas(other) << " | "
        << step.value("started", std::string()) << " | " << seconds << " |\n";
  }
  out << "\n## Devices not done\n\n";
  if (not_done.empty()) {
    out << "None: every device of every step ended done.\n";
  } else {
    out << with_commas(static_cast<std::int64_t>(not_done.size())) << " (device, step) pairs";
    if (not_done.size() > listed) out << "; the first " << listed << " below, all of them in `--format csv`";
    out << ".\n\n| step | batch | device | outcome | reason |\n|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < not_done.size() && i < listed; ++i) {
      const auto& d = not_done[i];
      out << "| " << cell(d["step"].get<std::string>()) << " | " << d["batch"].get<int>() << " | "
          << cell(d["device"].get<std::string>()) << " | " << d["outcome"].get<std::string>() << " | "
          << cell(d["reason"].get<std::string>()) << " |\n";
    }
  }
  if (facts["summary"].contains("counters")) {
    out << "\n## Requests\n\n| counter | value |\n|---|---|\n";
    for (const auto& [name, value] : facts["summary"]["counters"].items()) {
      out << "| " << name << " | "
          << (value.is_number_integer() ? with_commas(value.get<std::int64_t>()) : value.dump()) << " |\n";
    }
  }
  out << "\n## Events\n\n| at | event | message |\n|---|---|---|\n";
  for (const auto& event : facts["events"]) {
    out << "| " << event["at"].get<std::string>() << " | " << event["kind"].get<std::string>() << " | "
        << cell(event["message"].get<std::string>()) << " |\n";
  }
  return out.str();
}

} // namespace fleetrun::runner
