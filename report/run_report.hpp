#pragma once
// `fleetrun report`: a run's outcome as a document to hand on (a change
// ticket, an audit): Markdown for people, CSV with one row per device and
// step, JSON with everything `status` has plus every device that did not end
// done. Reads the state file only.

#include "report/run_facts.hpp"

#include <ostream>
#include <vector>

namespace fleetrun::report {

// One row per device and step: step, action, batch, device, outcome, HTTP
// status, job id and the reason when it did not end done. A batch whose job
// ended errored part-way marks its devices `part_failed` (the job log counts
// them, it does not name them).
void write_report_csv(std::ostream& out, const state::StateStore& store, const state::RunRecord& run);

// Every device (per step) that did not end done, with its batch's outcome and reason.
std::vector<DeviceNotDone> devices_not_done(const state::StateStore& store, const state::RunRecord& run);

// The Markdown report: the run, its steps with counts and timings, the
// devices that failed or are unknown (up to `listed` of them, the CSV has all),
// the request counters and the events.
std::string render_report_markdown(const RunFacts& facts, const std::vector<DeviceNotDone>& not_done,
                                   std::size_t listed = 200);

// The HTML report: the Markdown report's content as one self-contained page
// (inline CSS, no scripts, no external assets) with a timeline chart in inline
// SVG: requests, 429s and failed answers per bucket of time, step starts and ends.
std::string render_report_html(const RunFacts& facts, const std::vector<DeviceNotDone>& not_done,
                               std::size_t listed = 200);

} // namespace fleetrun::report
