#pragma once
// The subcommands. Each lives in a file of its own (cli/cmd_<name>.cpp): an
// options struct, a setup_<name> that registers the subcommand, its options
// and its handler with CLI11, and a run_<name> that does the work. cli.cpp
// registers them all (k_commands) and runs the one chosen.

#include "cli/exit_codes.hpp"
#include "cli/settings.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace fleetrun::cli {

// What parsing leaves for run_cli: the chosen subcommand's work, run once
// logging is set up, and the exit code of a usage error found while it runs.
struct Invocation {
  ConnectionFlags connection; // shared by the commands that talk to the API
  std::function<int()> run;
  int usage_error_exit = k_exit_usage;
};

using CommandSetup = void (*)(CLI::App& app, Invocation& invocation);

struct SandboxOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int threads = 64;
  std::string application_id = "5f1a2b3c4d5e6f7a8b9c0d1e";
  std::vector<std::string> tokens = {"sandbox-token"};
  std::size_t devices = 0;
  std::uint64_t seed = 1;
  std::string seed_time = "2026-11-01T00:00:00Z";
  std::string load_file;
  std::size_t job_threshold = 100;
  int job_duration_ms = 1000;
  double job_error_rate = 0;
  double job_fail_rate = 0;
  bool no_joblog_by_job_id = false;
  bool hide_job_logs = false;
  double rate = 0;
  double burst = 0;
  double fault_5xx = 0;
  double fault_drop_before = 0;
  double fault_drop_after = 0;
  std::uint64_t fault_seed = 1;
  std::string fault_route; // "POST /devices/command": faults only on that route
  int latency_ms = 0;
  int jitter_ms = 0;
  bool bare_429 = false;
  std::string request_log;
  bool log_bodies = false;
  std::string tls_certificate;
  std::string tls_private_key;
  std::string port_file; // write the chosen port here once listening
};

struct DevicesOptions {
  std::string query; // advanced query JSON text
  std::string query_file;
  std::string filter;
  std::vector<std::string> device_classes;
  std::vector<std::string> tags; // key=value, key= or =value
  std::string parent_id;
  bool deleted = false;
  std::string sort_field = "id";
  std::string sort_direction = "asc";
  int per_page = 1000;
  std::size_t limit = 0; // 0: all
  std::string output = "text";
};

struct PlanCommandOptions {
  std::string plan;
  std::optional<std::string> state;
  std::string output = "text";
  ExecutionFlags execution;       // the rate limit, retries and waits of the GET requests
  bool detailed_exitcode = false; // 0: nothing would be done, 2: something would, 1: an error
};

struct ApplyOptions {
  std::string plan;
  std::optional<std::string> state;
  bool yes = false;
  std::string from_preview;
  bool reuse_preview = false; // apply a preview that an apply used already
  bool scheduled = false;     // continue this plan's unfinished run if there is one; exit 75 when one is live
  std::string output = "text";
  std::string progress = "auto"; // auto | always | never
  ExecutionFlags execution;
};

struct ResumeOptions {
  std::string plan; // default: the path the run recorded
  std::optional<std::string> state;
  std::string run;
  std::string output = "text";
  std::string progress = "auto";
  ExecutionFlags execution;
};

struct StatusOptions {
  std::optional<std::string> state;
  std::string run;
  std::string output = "text";
};

struct ReportOptions {
  std::optional<std::string> state;
  std::string run;           // default: the newest run
  std::string format = "md"; // md | csv | json
  std::string output_file;   // default: standard output
};

struct PruneOptions {
  std::optional<std::string> state;
  std::optional<int> keep; // keep the newest N runs
  std::string before;      // remove runs created before this UTC date (YYYY-MM-DD)
  bool dry_run = false;
};

struct ValidateOptions {
  std::vector<std::string> plans;
};

struct RunsOptions {
  std::optional<std::string> state;
  std::string output = "text";
};

struct MigrateOptions {
  std::optional<std::string> state;
};

void setup_plan(CLI::App& app, Invocation& invocation);
void setup_apply(CLI::App& app, Invocation& invocation);
void setup_resume(CLI::App& app, Invocation& invocation);
void setup_status(CLI::App& app, Invocation& invocation);
void setup_runs(CLI::App& app, Invocation& invocation);
void setup_report(CLI::App& app, Invocation& invocation);
void setup_prune(CLI::App& app, Invocation& invocation);
void setup_migrate(CLI::App& app, Invocation& invocation);
void setup_devices(CLI::App& app, Invocation& invocation);
void setup_validate(CLI::App& app, Invocation& invocation);
void setup_plan_schema(CLI::App& app, Invocation& invocation);
void setup_sandbox(CLI::App& app, Invocation& invocation);
void setup_completion(CLI::App& app, Invocation& invocation);
void setup_man(CLI::App& app, Invocation& invocation);

int run_sandbox(const SandboxOptions& options);
int run_validate(const ValidateOptions& options);
int run_plan(const ConnectionFlags& connection, const PlanCommandOptions& options);
int run_apply(const ConnectionFlags& connection, const ApplyOptions& options);
int run_resume(const ConnectionFlags& connection, const ResumeOptions& options);
int run_status(const StatusOptions& options);
int run_runs(const RunsOptions& options);
int run_prune(const PruneOptions& options);
int run_migrate(const MigrateOptions& options);
int run_report(const ReportOptions& options);
int run_plan_schema();
int run_devices(const ConnectionFlags& connection, const DevicesOptions& options);

// Entry point of the executable: parses arguments, runs a command, maps
// exceptions to exit codes. Catches everything.
int run_cli(int argc, char** argv);

} // namespace fleetrun::cli
