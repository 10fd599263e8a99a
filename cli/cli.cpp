// The command line: the global options, every subcommand (each registers
// itself: cli/commands.hpp, cli/cmd_*.cpp), a did-you-mean for a mistyped one,
// and the one place exceptions end, mapped to documented exit codes.
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/exit_codes.hpp"
#include "cli/logging.hpp"

#include "plans/diagnostic.hpp"
#include "state/records.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::cli {

namespace {

// Every subcommand, in the order --help lists them.
constexpr CommandSetup k_commands[] = {setup_sandbox, setup_devices, setup_validate,   setup_plan_schema, setup_plan,
                                       setup_apply,   setup_resume,  setup_status,     setup_runs,        setup_prune,
                                       setup_migrate, setup_report,  setup_completion, setup_man};

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

} // namespace

int run_cli(int argc, char** argv)
{
  CLI::App app{"fleetrun: preview, apply and resume bulk operations on Losant devices"};
  app.require_subcommand(1);
  app.fallthrough(true); // global options may follow the subcommand
  app.set_version_flag("--version", std::string("fleetrun ") + FLEETRUN_VERSION);
  LogOptions logging;
  app.add_option("--log-level", logging.level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text (a UTC timestamp and the level) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-file", logging.file, "also append the log to this file");

  Invocation invocation;
  for (const CommandSetup setup : k_commands) setup(app, invocation);

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
    if (invocation.run) return invocation.run();
  } catch (const UsageError& error) {
    spdlog::error("{}", error.what());
    return invocation.usage_error_exit;
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

} // namespace fleetrun::cli
