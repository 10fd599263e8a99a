#pragma once
// Options several subcommands share, registered with CLI11 (included by the
// cmd_*.cpp files only: it is a large header).

#include "cli/settings.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace fleetrun::cli {

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

// Where the API is, the token, TLS and the timeouts (plan, apply, resume, devices).
void add_connection_options(CLI::App& command, ConnectionFlags& options);
// The rate limit, retries and waits (plan, apply, resume).
void add_execution_options(CLI::App& command, ExecutionFlags& options);
// --progress auto|always|never (apply, resume).
void add_progress_option(CLI::App& command, std::string& progress);
// --output text|json.
void add_output_option(CLI::App& command, std::string& output);
// --state FILE, with what it defaults to.
void add_state_option(CLI::App& command, std::optional<std::string>& state, const std::string& fallback);

} // namespace fleetrun::cli
