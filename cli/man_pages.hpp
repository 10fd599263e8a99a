#pragma once
// Manual pages made from the same command definitions as --help: fleetrun(1)
// (the commands, global options, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES)
// and fleetrun-<command>(1) for each subcommand, every option with its
// default. The package installs them (cmake/FleetrunInstall.cmake).

#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace fleetrun::cli {

// Text made safe for roff: backslashes, a leading dot or quote, hyphens in
// option names.
std::string roff_escape(const std::string& text);

// Every page as (file name, roff text): fleetrun.1 first, then
// fleetrun-<command>.1 in the order the commands are registered.
std::vector<std::pair<std::string, std::string>> manual_pages(CLI::App& app, const std::string& version);

} // namespace fleetrun::cli
