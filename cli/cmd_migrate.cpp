// fleetrun migrate: brings a state file written by an older fleetrun to this
// one's schema (what plan, apply, resume and prune do when they open it; the
// commands that only read never rewrite a file).
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/state_files.hpp"

#include <iostream>
#include <memory>

namespace fleetrun::cli {

void setup_migrate(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<MigrateOptions>();
  auto* command =
      app.add_subcommand("migrate", "Bring a state file written by an older fleetrun up to this one's schema");
  add_state_option(*command, options->state, "the only *.fleetrun.db here");
  command->callback([&invocation, options] { invocation.run = [options] { return run_migrate(*options); }; });
}

int run_migrate(const MigrateOptions& options)
{
  auto found = find_state_file(options.state);
  if (!found) throw UsageError(found.error());
  auto store = open_existing_state(*found); // opened for writing: migrated, in one transaction
  if (!store) throw state::StateFailure(store.error());
  std::cout << *found << ": state schema " << state::k_schema_version << "\n";
  return k_exit_ok;
}

} // namespace fleetrun::cli
