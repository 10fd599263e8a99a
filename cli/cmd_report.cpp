// fleetrun report: a run's report to hand on, as Markdown, HTML (with a
// timeline), CSV (one row per device and step) or JSON. Reads only; `-o`
// writes the whole file or nothing.
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/state_files.hpp"
#include "report/run_report.hpp"
#include "report/status_report.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace fleetrun::cli {

using nlohmann::json;

void setup_report(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<ReportOptions>();
  auto& report = *options;
  auto* command = app.add_subcommand(
      "report", "A run's report to hand on: Markdown, HTML, CSV (one row per device and step) or JSON");
  command->add_option("run", report.run, "run id [default: the newest run]");
  add_optional(*command, "--state", report.state, "state file [default: the only *.fleetrun.db here]");
  command->add_option("--format", report.format, "md, html (with a timeline chart), csv or json")
      ->check(CLI::IsMember({"md", "html", "csv", "json"}))
      ->capture_default_str();
  command->add_option("-o,--output-file", report.output_file, "write it to this file [default: standard output]");
  command->callback([&invocation, options] { invocation.run = [options] { return run_report(*options); }; });
}

int run_report(const ReportOptions& options)
{
  std::string state_path;
  const auto store = open_state_to_read(options.state, state_path);
  const state::RunRecord run = chosen_run(*store, state_path, options.run);
  std::ostringstream text;
  if (options.format == "csv") {
    report::write_report_csv(text, *store, run);
  } else {
    const report::RunFacts facts = report::run_facts(*store, run);
    const auto not_done = report::devices_not_done(*store, run);
    if (options.format == "json") {
      json document = report::to_json(facts);
      document["devicesNotDone"] = report::to_json(not_done);
      text << document.dump(2) << "\n";
    } else if (options.format == "html") {
      text << report::render_report_html(facts, not_done);
    } else {
      text << report::render_report_markdown(facts, not_done);
    }
  }
  if (options.output_file.empty() || options.output_file == "-") {
    std::cout << text.str();
    return k_exit_ok;
  }
  // Written whole or not at all: a temporary file beside it, renamed.
  const std::string temporary = options.output_file + ".part";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text.str();
    out.close();
    if (!out) {
      std::filesystem::remove(temporary);
      throw UsageError("-o " + options.output_file + ": cannot write it (does its folder exist?)");
    }
  }
  std::filesystem::rename(temporary, options.output_file);
  std::cerr << "report of run " << run.id << " written to " << options.output_file << "\n";
  return k_exit_ok;
}

} // namespace fleetrun::cli
