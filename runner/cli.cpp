#include "runner/commands.hpp"
#include "runner/errors.hpp"
#include "runner/exit_codes.hpp"
#include "runner/logging.hpp"

#include "plans/diagnostic.hpp"
#include "state/state_store.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::runner {

namespace {

// The first word of the command line that is not an option (or an option's
// value) when it names no command: "aply" in `fleetrun --log-level warn aply x`.
std::optional<std::string> unknown_command(CLI::App& app, int argc, const char* const* argv)
{
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--log-level" || word == "--log-format" || word == "--log-file") {
      ++i; // its value
      continue;
    }
    if (word.starts_with("-")) continue;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(word)) return std::nullopt;
    }
    return word;
  }
  return std::nullopt;
}

// An option whose absence is kept as such (settings.cpp merges it with the
// environment, the plan and the defaults); `fallback` is what --help shows.
template <class T>
CLI::Option* add_optional(CLI::App& command, const std::string& name, std::optional<T>& target,
                          const std::string& description, const std::string& fallback = {})
{
  auto* option = command.add_option_function<T>(
      name, [&target](const T& value) { target = value; }, description);
  if (!fallback.empty()) option->default_str(fallback);
  return option;
}

void add_connection_options(CLI::App& command, ConnectionFlags& options)
{
  add_optional(command, "--api-url", options.api_url, "API base URL [env LOSANT_API_URL, then the plan's target]",
               k_default_api_url);
  add_optional(command, "--application", options.application_id,
               "application id [env LOSANT_APPLICATION_ID, then the plan's target]");
  add_optional(command, "--token-env", options.token_env,
               "environment variable holding the API token [the plan's target.token_env]", k_default_token_env);
  add_optional(command, "--token-file", options.token_file, "read the API token from this file instead");
  add_optional(command, "--ca-file", options.ca_file, "extra trusted CA certificates (PEM) for HTTPS");
  command.add_flag("--insecure", options.insecure, "do not verify TLS certificates (dangerous; warns)");
  add_optional(command, "--connect-timeout-ms", options.connect_timeout_ms, "connect timeout",
               std::to_string(k_default_connect_timeout_ms));
  add_optional(command, "--read-timeout-ms", options.read_timeout_ms, "longest wait for the next bytes of an answer",
               std::to_string(k_default_read_timeout_ms))
      ->check(CLI::PositiveNumber);
  add_optional(command, "--request-timeout-ms", options.request_timeout_ms,
               "deadline for a whole request, however slowly its answer arrives",
               std::to_string(k_default_request_timeout_ms))
      ->check(CLI::PositiveNumber);
  add_optional(command, "--low-speed-limit", options.low_speed_limit,
               "bytes per second: an answer slower than this over --low-speed-time is cut off and retried; 0: "
               "no limit",
               std::to_string(k_default_low_speed_limit))
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--low-speed-time", options.low_speed_time_s, "seconds over which --low-speed-limit is judged",
               std::to_string(k_default_low_speed_time_s))
      ->check(CLI::PositiveNumber);
}

void add_sandbox_command(CLI::App& app, SandboxOptions& o, int& selected)
{
  auto* cmd = app.add_subcommand("sandbox", "Run the local Losant-compatible Devices API on loopback");
  cmd->add_option("--host", o.host, "address to bind (loopback)")->capture_default_str();
  cmd->add_option("--port", o.port, "port; 0 picks a free one and prints it")->capture_default_str();
  cmd->add_option("--port-file", o.port_file, "write the port to this file once listening");
  cmd->add_option("--threads", o.threads, "request threads (a kept-alive connection holds one while open)")
      ->capture_default_str();
  cmd->add_option("--application", o.application_id, "application id served")->capture_default_str();
  cmd->add_option("--tokens", o.tokens, "accepted API tokens (comma separated)")->delimiter(',')->capture_default_str();
  cmd->add_option("--devices", o.devices, "generate this many devices")->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the generated fleet")->capture_default_str();
  cmd->add_option("--seed-time", o.seed_time, "\"now\" of the generated history (ISO 8601)")->capture_default_str();
  cmd->add_option("--load", o.load_file, "load devices from a devices export (JSON)");
  cmd->add_option("--job-threshold", o.job_threshold, "bulk actions on more devices than this answer 202")
      ->capture_default_str();
  cmd->add_option("--job-duration-ms", o.job_duration_ms, "how long a background job takes")->capture_default_str();
  cmd->add_option("--job-error-rate", o.job_error_rate, "probability a job ends errored")->capture_default_str();
  cmd->add_option("--job-fail-rate", o.job_fail_rate, "probability a job ends failed")->capture_default_str();
  cmd->add_flag("--no-joblog-by-jobid", o.no_joblog_by_job_id,
                "GET /jobLogs/{id} accepts only job log ids, not a 202's jobId");
  cmd->add_flag("--hide-job-logs", o.hide_job_logs, "serve no job logs at all (clients must check the devices)");
  cmd->add_option("--rate", o.rate, "requests/second per token; 0 unlimited")->capture_default_str();
  cmd->add_option("--burst", o.burst, "token bucket size (default: rate)")->capture_default_str();
  cmd->add_option("--fault-5xx", o.fault_5xx, "probability of a 503")->capture_default_str();
  cmd->add_option("--fault-drop-before", o.fault_drop_before, "probability of dropping the connection before handling")
      ->capture_default_str();
  cmd->add_option("--fault-drop-after", o.fault_drop_after, "probability of dropping it after applying a mutation")
      ->capture_default_str();
  cmd->add_option("--fault-seed", o.fault_seed, "seed of the fault dice")->capture_default_str();
  cmd->add_option("--fault-route", o.fault_route,
                  "faults only on this route, e.g. \"POST /devices/command\" (default: every route)");
  cmd->add_option("--latency-ms", o.latency_ms, "added latency per request")->capture_default_str();
  cmd->add_flag("--bare-429", o.bare_429, "answer a request over the rate limit with a 429 and no Retry-After");
  cmd->add_option("--jitter-ms", o.jitter_ms, "each request's latency varies by up to this much either way")
      ->capture_default_str();
  cmd->add_option("--request-log", o.request_log, "append a JSON line per request to this file (tokens redacted)");
  cmd->add_flag("--log-bodies", o.log_bodies, "include request bodies in the request log");
  cmd->add_option("--tls-cert", o.tls_certificate, "serve HTTPS with this PEM certificate");
  cmd->add_option("--tls-key", o.tls_private_key, "and this PEM private key");
  cmd->callback([&selected] { selected = 1; });
}

void add_devices_command(CLI::App& app, ConnectionFlags& c, DevicesOptions& o, int& selected)
{
  auto* cmd = app.add_subcommand("devices", "List the devices a query matches (GET requests only)");
  add_connection_options(*cmd, c);
  cmd->add_option("--query", o.query, "advanced device query (JSON)");
  cmd->add_option("--query-file", o.query_file, "read the advanced device query from a JSON file");
  cmd->add_option("--filter", o.filter, "name glob, e.g. 'north-*'");
  cmd->add_option("--device-class", o.device_classes, "device class (repeatable)");
  cmd->add_option("--tag", o.tags, "tag filter key=value (repeatable)");
  cmd->add_option("--parent-id", o.parent_id, "children of this system device");
  cmd->add_flag("--deleted", o.deleted, "list soft-deleted devices instead");
  cmd->add_option("--sort-field", o.sort_field, "name, id, creationDate, lastUpdated")->capture_default_str();
  cmd->add_option("--sort-direction", o.sort_direction, "asc or desc")->capture_default_str();
  cmd->add_option("--per-page", o.per_page, "page size (1-1000)")->capture_default_str();
  cmd->add_option("--limit", o.limit, "stop after this many devices (0: all)")->capture_default_str();
  cmd->add_option("--output", o.output, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->callback([&selected] { selected = 2; });
}

void add_validate_command(CLI::App& app, ValidateOptions& o, int& selected)
{
  auto* cmd = app.add_subcommand("validate", "Check plans and report every problem (file:line:col); sends nothing");
  cmd->add_option("plans", o.plans, "plan files")->required()->check(CLI::ExistingFile);
  cmd->callback([&selected] { selected = 3; });
  auto* schema = app.add_subcommand("plan-schema", "Print the plan format's JSON Schema (for editors)");
  schema->callback([&selected] { selected = 4; });
}

void add_progress_option(CLI::App& command, std::string& progress)
{
  command
      .add_option("--progress", progress,
                  "auto: a live line on a terminal, a log line every 5 s otherwise; always: the live line even "
                  "without a terminal; never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

void add_execution_options(CLI::App& command, ExecutionFlags& o)
{
  add_optional(command, "--concurrency", o.concurrency,
               "requests in flight at most; below it the number adapts to the rate limit and round trip "
               "[plan: options.concurrency]",
               std::to_string(k_default_concurrency))
      ->check(CLI::Range(1, k_max_concurrency));
  add_optional(command, "--rate", o.rate,
               "requests per second; 0: unlimited until the API throttles [plan: options.rate]", "0")
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--burst", o.burst, "rate-limit burst [plan: options.burst]", "the rate")
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--retry-budget", o.retry_budget, "retries allowed in this invocation, all batches together",
               std::to_string(k_default_retry_budget))
      ->check(CLI::NonNegativeNumber);
  add_optional(command, "--max-attempts", o.max_attempts, "failed requests per batch before it fails",
               std::to_string(k_default_max_attempts))
      ->check(CLI::PositiveNumber);
  add_optional(command, "--max-failure-percent", o.max_failure_percent,
               "abort when more of a step's devices fail [plan: options.max_failure_percent]", "10")
      ->check(CLI::Range(0.0, 100.0));
  add_optional(command, "--max-retry-after", o.max_retry_after_s,
               "seconds: a longer Retry-After stops the run (resume continues it) instead of waiting",
               std::to_string(k_default_max_retry_after.count()))
      ->check(CLI::NonNegativeNumber);
  command.add_flag("--keep-going", o.keep_going, "run later steps even after a step had failures");
}

void add_run_commands(CLI::App& app, ConnectionFlags& c, PlanCommandOptions& plan, ApplyOptions& apply,
                      ResumeOptions& resume, StatusOptions& status, int& selected)
{
  const auto output = CLI::IsMember({"text", "json"});
  auto* plan_cmd =
      app.add_subcommand("plan", "Dry-run: resolve the queries and show what apply would do (GET requests only)");
  add_connection_options(*plan_cmd, c);
  plan_cmd->add_option("plan", plan.plan, "plan file")->required()->check(CLI::ExistingFile);
  add_optional(*plan_cmd, "--state", plan.state, "state file [default: PLAN with .fleetrun.db]");
  plan_cmd->add_option("--output", plan.output, "text or json")->check(output)->capture_default_str();
  add_execution_options(*plan_cmd, plan.execution);
  plan_cmd->add_flag("--detailed-exitcode", plan.detailed_exitcode,
                     "exit 0 when applying would do nothing, 2 when it would do something, 1 for an invalid plan "
                     "(as terraform plan)");
  plan_cmd->callback([&selected] { selected = 5; });

  auto* apply_cmd = app.add_subcommand("apply", "Apply a plan: every batch recorded before and after its request");
  add_connection_options(*apply_cmd, c);
  apply_cmd->add_option("plan", apply.plan, "plan file")->required()->check(CLI::ExistingFile);
  add_optional(*apply_cmd, "--state", apply.state, "state file [default: PLAN with .fleetrun.db]");
  apply_cmd->add_flag("--yes,-y", apply.yes, "do not ask before changing devices");
  apply_cmd->add_option("--from-preview", apply.from_preview, "use exactly the devices of this saved preview run");
  add_progress_option(*apply_cmd, apply.progress);
  apply_cmd->add_flag("--scheduled", apply.scheduled,
                      "for schedules: continue this plan's unfinished run (as resume) instead of starting another; "
                      "exit 75 when another fleetrun is applying one now");
  apply_cmd->add_flag("--reuse-preview", apply.reuse_preview,
                      "apply a preview that an earlier apply used already (it repeats what that one did)");
  apply_cmd->add_option("--output", apply.output, "text or json")->check(output)->capture_default_str();
  add_execution_options(*apply_cmd, apply.execution);
  apply_cmd->callback([&selected] { selected = 6; });

  auto* resume_cmd = app.add_subcommand("resume", "Continue an interrupted apply run where it stopped");
  add_connection_options(*resume_cmd, c);
  resume_cmd->add_option("plan", resume.plan, "plan file [default: the one the run recorded]");
  add_optional(*resume_cmd, "--state", resume.state, "state file [default: the only *.fleetrun.db here]");
  resume_cmd->add_option("--run", resume.run, "run id [default: the newest apply run]");
  resume_cmd->add_option("--output", resume.output, "text or json")->check(output)->capture_default_str();
  add_execution_options(*resume_cmd, resume.execution);
  add_progress_option(*resume_cmd, resume.progress);
  resume_cmd->callback([&selected] { selected = 7; });

  auto* status_cmd = app.add_subcommand("status", "Show a run's steps, batches and events (reads only; takes no lock)");
  add_optional(*status_cmd, "--state", status.state, "state file [default: the only *.fleetrun.db here]");
  status_cmd->add_option("--run", status.run, "run id [default: the newest run]");
  status_cmd->add_option("--output", status.output, "text or json")->check(output)->capture_default_str();
  status_cmd->callback([&selected] { selected = 8; });

  auto* runs_cmd = app.add_subcommand("runs", "List the runs in a state file");
  add_optional(*runs_cmd, "--state", status.state, "state file [default: the only *.fleetrun.db here]");
  runs_cmd->add_option("--output", status.output, "text or json")->check(output)->capture_default_str();
  runs_cmd->callback([&selected] { selected = 9; });
}

void add_report_command(CLI::App& app, ReportOptions& report, int& selected)
{
  auto* report_cmd = app.add_subcommand(
      "report", "A run's report to hand on: Markdown, HTML, CSV (one row per device and step) or JSON");
  report_cmd->add_option("run", report.run, "run id [default: the newest run]");
  add_optional(*report_cmd, "--state", report.state, "state file [default: the only *.fleetrun.db here]");
  report_cmd->add_option("--format", report.format, "md, html (with a timeline chart), csv or json")
      ->check(CLI::IsMember({"md", "html", "csv", "json"}))
      ->capture_default_str();
  report_cmd->add_option("-o,--output-file", report.output_file, "write it to this file [default: standard output]");
  report_cmd->callback([&selected] { selected = 11; });
}

// `fleetrun completion bash|zsh`: a completion script made from the same
// definitions as --help (the commands and each command's options).
std::string completion_script(CLI::App& app, const std::string& shell)
{
  std::string commands;
  std::string cases;
  for (auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == "completion") continue;
    commands += (commands.empty() ? "" : " ") + sub->get_name();
    std::string words;
    for (const auto* option : sub->get_options()) {
      for (const auto& name : option->get_lnames()) words += (words.empty() ? "--" : " --") + name;
      for (const auto& name : option->get_snames()) words += (words.empty() ? "-" : " -") + name;
    }
    cases += "    " + sub->get_name() + ") opts=\"" + words + "\" ;;\n";
  }
  std::string globals;
  for (const auto* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) globals += (globals.empty() ? "--" : " --") + name;
  }
  if (shell == "zsh") {
    return "#compdef fleetrun\n# fleetrun completion for zsh (uses the bash completion through bashcompinit)\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           completion_script(app, "bash");
  }
  return "# fleetrun completion for bash: source it, or put it in /usr/share/bash-completion/completions/fleetrun\n"
         "_fleetrun() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" command=\"\" opts=\"\" i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    case \"${COMP_WORDS[i]}\" in\n"
         "      --log-level|--log-format|--log-file) ((i++)) ;;\n"
         "      -*) ;;\n"
         "      *) command=\"${COMP_WORDS[i]}\"; break ;;\n"
         "    esac\n"
         "  done\n"
         "  if [[ -z \"$command\" ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         commands + " " + globals +
         "\" -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  case \"$command\" in\n" +
         cases +
         "  esac\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -o filenames -F _fleetrun fleetrun\n";
}

void add_prune_command(CLI::App& app, PruneOptions& prune, int& selected)
{
  auto* prune_cmd = app.add_subcommand(
      "prune", "Remove finished runs from a state file and reclaim the space (never an unfinished run)");
  add_optional(*prune_cmd, "--state", prune.state, "state file [default: the only *.fleetrun.db here]");
  add_optional(*prune_cmd, "--keep", prune.keep, "keep the newest N runs", "")->check(CLI::NonNegativeNumber);
  prune_cmd->add_option("--before", prune.before, "remove runs created before this UTC date (YYYY-MM-DD)");
  prune_cmd->add_flag("--dry-run", prune.dry_run, "only list what would be removed");
  prune_cmd->callback([&selected] { selected = 10; });
}

} // namespace

int run_cli(int argc, char** argv)
{
  CLI::App app{"fleetrun: preview, apply and resume bulk operations on Losant devices"};
  app.require_subcommand(1);
  app.fallthrough(true); // global options may follow the subcommand
  app.set_version_flag("--version", "fleetrun 0.1.0");
  LogOptions logging;
  app.add_option("--log-level", logging.level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text (a UTC timestamp and the level) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-file", logging.file, "also append the log to this file");

  int selected = 0;
  ConnectionFlags connection;
  SandboxOptions sandbox;
  DevicesOptions devices;
  add_sandbox_command(app, sandbox, selected);
  add_devices_command(app, connection, devices, selected);
  ValidateOptions validate;
  add_validate_command(app, validate, selected);
  PlanCommandOptions plan;
  ApplyOptions apply;
  ResumeOptions resume;
  StatusOptions status;
  add_run_commands(app, connection, plan, apply, resume, status, selected);
  PruneOptions prune;
  add_prune_command(app, prune, selected);
  ReportOptions report;
  add_report_command(app, report, selected);
  std::string completion_shell;
  auto* completion_cmd = app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
  completion_cmd->add_option("shell", completion_shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion_cmd->callback([&selected] { selected = 12; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // A mistyped command: CLI11 only says a subcommand is required, or that
    // the word is an extra argument; name the command meant instead.
    if (const auto unknown = unknown_command(app, argc, argv)) {
      std::vector<std::string> names;
      for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        names.push_back(sub->get_name());
      const auto meant = plans::did_you_mean(*unknown, names);
      std::cerr << "error: unknown command \"" << *unknown << "\""
                << (meant ? " (did you mean \"" + *meant + "\"?)" : std::string())
                << "; `fleetrun --help` lists them\n";
      return k_exit_usage;
    }
    const int code = app.exit(error);
    return code == 0 ? k_exit_ok : k_exit_usage;
  }

  try {
    install_logging(logging);
  } catch (const UsageError& error) {
    std::cerr << "error: " << error.what() << "\n";
    return k_exit_usage;
  }

  // Exceptions are for setup and fatal errors; they end here, once.
  try {
    switch (selected) {
    case 1: return run_sandbox(sandbox);
    case 2: return run_devices(connection, devices);
    case 3: return run_validate(validate);
    case 4: return run_plan_schema();
    case 5: return run_plan(connection, plan);
    case 6: return run_apply(connection, apply);
    case 7: return run_resume(connection, resume);
    case 8: return run_status(status);
    case 9: return run_runs(status);
    case 10: return run_prune(prune);
    case 11: return run_report(report);
    case 12: std::cout << completion_script(app, completion_shell); return k_exit_ok;
    default: break;
    }
  } catch (const UsageError& error) {
    spdlog::error("{}", error.what());
    // With --detailed-exitcode, 2 means "something would be done": an error is 1, as in terraform.
    return selected == 5 && plan.detailed_exitcode ? k_exit_partial : k_exit_usage;
  } catch (const Busy& error) {
    spdlog::warn("{}", error.what());
    return k_exit_busy;
  } catch (const GuardRefusal& error) {
    spdlog::error("{}", error.what());
    return k_exit_guard;
  } catch (const state::StateFailure& error) {
    spdlog::error("{}", error.what());
    return k_exit_state;
  } catch (const ApiUnusable& error) {
    spdlog::error("{}", error.what());
    return k_exit_api;
  } catch (const std::exception& error) {
    spdlog::critical("internal error (a bug in fleetrun; the state file is consistent, resume continues): {}",
                     error.what());
    return k_exit_internal;
  }
  return k_exit_usage;
}

} // namespace fleetrun::runner
