#include "report/run_report.hpp"

#include "jobs/step_kind.hpp"
#include "text/text_format.hpp"

#include "losant/time_format.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace fleetrun::report {

using text::with_commas;

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

std::string iso(std::int64_t ms)
{
  return losant::format_iso8601_ms(ms);
}

// A step's seconds from start to finish, one decimal; empty while it runs.
std::string seconds_of(const StepFacts& step)
{
  if (step.finished_ms <= 0) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", static_cast<double>(step.finished_ms - step.started_ms) / 1000.0);
  return text;
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

std::vector<DeviceNotDone> devices_not_done(const state::StateStore& store, const state::RunRecord& run)
{
  std::vector<DeviceNotDone> out;
  for_each_device_outcome(store, run,
                          [&](const state::StepRecord& step, const state::BatchRecord& batch, const std::string& device,
                              const std::string& outcome, const std::string& reason) {
                            if (outcome == "done") return;
                            out.push_back({step.step_id, batch.batch_index + 1, device, outcome, reason});
                          });
  return out;
}

std::string render_report_markdown(const RunFacts& facts, const std::vector<DeviceNotDone>& not_done,
                                   std::size_t listed)
{
  std::ostringstream out;
  out << "# fleetrun run " << facts.run << ": " << facts.status << "\n\n";
  out << "| | |\n|---|---|\n";
  out << "| plan | `" << cell(facts.plan) << "` |\n";
  out << "| application | " << cell(facts.application) << " at " << cell(facts.api_url) << " |\n";
  out << "| kind | " << facts.kind << " |\n";
  out << "| started | " << iso(facts.created_ms) << " |\n";
  out << "| last change | " << iso(facts.updated_ms) << " |\n";
  if (!facts.from_preview.empty()) out << "| devices from preview | " << facts.from_preview << " |\n";
  out << "\n## Steps\n\n| # | step | action | devices | done | failed | other | started | seconds |\n"
      << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& step : facts.steps) {
    std::int64_t done = 0;
    std::int64_t failed = 0;
    std::int64_t other = 0;
    for (const auto& [state, count] : step.devices_by_state) {
      if (state == "done")
        done += count;
      else if (state == "failed")
        failed += count;
      else
        other += count;
    }
    out << "| " << step.index << " | " << cell(step.id) << " | " << step.action << " | " << with_commas(step.devices)
        << " | " << with_commas(done) << " | " << with_commas(failed) << " | " << with_commas(other) << " | "
        << (step.started_ms > 0 ? iso(step.started_ms) : std::string()) << " | " << seconds_of(step) << " |\n";
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
      out << "| " << cell(d.step) << " | " << d.batch << " | " << cell(d.device) << " | " << d.outcome << " | "
          << cell(d.reason) << " |\n";
    }
  }
  if (facts.counters.is_object()) {
    out << "\n## Requests\n\n| counter | value |\n|---|---|\n";
    for (const auto& [name, value] : facts.counters.items()) {
      if (value.is_object()) { // requests by purpose
        for (const auto& [purpose, n] : value.items()) {
          if (n.is_number_integer())
            out << "| requests for " << text::camel_to_words(purpose) << " | " << with_commas(n.get<std::int64_t>())
                << " |\n";
        }
      } else if (value.is_number_integer()) {
        out << "| " << text::counter_words(name) << " | " << with_commas(value.get<std::int64_t>()) << " |\n";
      }
    }
  }
  out << "\n## Events\n\n| at | event | message |\n|---|---|---|\n";
  for (const auto& event : facts.events)
    out << "| " << iso(event.at_ms) << " | " << event.kind << " | " << cell(event.message) << " |\n";
  return out.str();
}

namespace {

std::string html_escape(const std::string& text)
{
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out += c;
    }
  }
  return out;
}

std::string number(double value)
{
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

// The timeline: one group of bars per bucket (requests grey, 429s orange,
// failed answers red, scaled to the busiest bucket), a tick per step start.
std::string timeline_svg(const RunFacts& facts)
{
  const Timeline& timeline = facts.timeline;
  if (timeline.buckets.empty()) return "<p>No requests were recorded for this run's timeline.</p>\n";
  const auto& buckets = timeline.buckets;
  const double width = 900;
  const double height = 220;
  const double left = 50;
  const double bottom = 30;
  const std::int64_t last = buckets.back().offset;
  const double slots = static_cast<double>(last + 1);
  std::int64_t busiest = 1;
  for (const auto& b : buckets) busiest = std::max(busiest, b.requests);
  const double slot = (width - left) / slots;
  const double plot = height - bottom - 10;
  const auto bucket_seconds = timeline.bucket_seconds;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << width << " " << height
      << "\" role=\"img\" aria-label=\"requests, 429s and failed answers over time\">\n";
  svg << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width << "\" y2=\"" << height - bottom
      << "\" stroke=\"#444\"/>\n";
  svg << "<text x=\"" << left - 6 << "\" y=\"18\" text-anchor=\"end\" font-size=\"11\">" << busiest << "</text>\n";
  svg << "<text x=\"" << left - 6 << "\" y=\"" << height - bottom
      << "\" text-anchor=\"end\" font-size=\"11\">0</text>\n";
  for (const auto& b : buckets) {
    const double x = left + static_cast<double>(b.offset) * slot;
    const auto bar = [&](std::int64_t count, const char* colour, double offset, const char* what) {
      if (count <= 0) return;
      const double h = plot * static_cast<double>(count) / static_cast<double>(busiest);
      svg << "<rect class=\"" << what << "\" x=\"" << number(x + offset * slot / 3) << "\" y=\""
          << number(height - bottom - h) << "\" width=\"" << number(std::max(0.5, slot / 3)) << "\" height=\""
          << number(h) << "\" fill=\"" << colour << "\"><title>" << count << " " << what << " at +"
          << b.offset * bucket_seconds << " s</title></rect>\n";
    };
    bar(b.requests, "#9aa5b1", 0, "requests");
    bar(b.throttled, "#e8890c", 1, "throttled");
    bar(b.failed, "#c62828", 2, "failed");
  }
  const std::int64_t start_ms = timeline.start_ms;
  for (const auto& event : facts.events) {
    if (event.kind != "step_started") continue;
    const double x =
        left + static_cast<double>(event.at_ms - start_ms) / 1000.0 / static_cast<double>(bucket_seconds) * slot;
    if (x < left || x > width) continue;
    svg << "<line x1=\"" << number(x) << "\" y1=\"10\" x2=\"" << number(x) << "\" y2=\"" << height - bottom
        << "\" stroke=\"#1565c0\" stroke-dasharray=\"3,3\"><title>" << html_escape(event.message)
        << "</title></line>\n";
  }
  svg << "<text x=\"" << left << "\" y=\"" << height - 8 << "\" font-size=\"11\">0 s</text>\n";
  svg << "<text x=\"" << width << "\" y=\"" << height - 8 << "\" text-anchor=\"end\" font-size=\"11\">"
      << (last + 1) * bucket_seconds << " s</text>\n";
  svg << "</svg>\n";
  return svg.str();
}

} // namespace

std::string render_report_html(const RunFacts& facts, const std::vector<DeviceNotDone>& not_done, std::size_t listed)
{
  std::ostringstream out;
  const std::string& run = facts.run;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fleetrun run " << html_escape(run)
      << "</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;"
         "margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}"
         ".failed{color:#c62828}.legend span{margin-right:1.5em}</style></head>\n<body>\n";
  out << "<h1>fleetrun run " << html_escape(run) << ": " << html_escape(facts.status) << "</h1>\n";
  out << "<table>\n<tr><th>plan</th><td><code>" << html_escape(facts.plan) << "</code></td></tr>\n"
      << "<tr><th>application</th><td>" << html_escape(facts.application) << " at " << html_escape(facts.api_url)
      << "</td></tr>\n"
      << "<tr><th>started</th><td>" << iso(facts.created_ms) << "</td></tr>\n"
      << "<tr><th>last change</th><td>" << iso(facts.updated_ms) << "</td></tr>\n</table>\n";
  out << "<h2>Timeline</h2>\n<p class=\"legend\"><span style=\"color:#9aa5b1\">&#9632; requests</span>"
         "<span style=\"color:#e8890c\">&#9632; 429s</span><span style=\"color:#c62828\">&#9632; failed answers</span>"
         "<span style=\"color:#1565c0\">- - step starts</span> (the last invocation: resume starts its own)</p>\n"
      << timeline_svg(facts);
  out << "<h2>Steps</h2>\n<table>\n<tr><th>#</th><th>step</th><th>action</th><th>devices</th><th>by state</th>"
         "<th>started</th><th>seconds</th></tr>\n";
  for (const auto& step : facts.steps) {
    std::string states;
    for (const auto& [state, count] : step.devices_by_state)
      states += (states.empty() ? "" : ", ") + with_commas(count) + " " + state;
    out << "<tr><td>" << step.index << "</td><td>" << html_escape(step.id) << "</td><td>" << html_escape(step.action)
        << "</td><td>" << with_commas(step.devices) << "</td><td>" << html_escape(states) << "</td><td>"
        << (step.started_ms > 0 ? iso(step.started_ms) : std::string()) << "</td><td>" << seconds_of(step)
        << "</td></tr>\n";
  }
  out << "</table>\n<h2>Devices not done</h2>\n";
  if (not_done.empty()) {
    out << "<p>None: every device of every step ended done.</p>\n";
  } else {
    out << "<p>" << with_commas(static_cast<std::int64_t>(not_done.size())) << " (device, step) pairs"
        << (not_done.size() > listed ? "; the first " + std::to_string(listed) + " below, all of them in the CSV report"
                                     : std::string())
        << ".</p>\n<table>\n<tr><th>step</th><th>batch</th><th>device</th><th>outcome</th><th>reason</th></tr>\n";
    for (std::size_t i = 0; i < not_done.size() && i < listed; ++i) {
      const auto& d = not_done[i];
      out << "<tr class=\"failed\"><td>" << html_escape(d.step) << "</td><td>" << d.batch << "</td><td>"
          << html_escape(d.device) << "</td><td>" << html_escape(d.outcome) << "</td><td>" << html_escape(d.reason)
          << "</td></tr>\n";
    }
    out << "</table>\n";
  }
  out << "<h2>Events</h2>\n<table>\n<tr><th>at</th><th>event</th><th>message</th></tr>\n";
  for (const auto& event : facts.events) {
    out << "<tr><td>" << iso(event.at_ms) << "</td><td>" << html_escape(event.kind) << "</td><td>"
        << html_escape(event.message) << "</td></tr>\n";
  }
  out << "</table>\n</body></html>\n";
  return out.str();
}

} // namespace fleetrun::report
