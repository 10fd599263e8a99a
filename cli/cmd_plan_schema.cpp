// fleetrun plan-schema: the plan format's JSON Schema, for editors.
#include "cli/commands.hpp"
#include "cli/options.hpp"

#include "plans/plan_parser.hpp"

#include <iostream>

namespace fleetrun::cli {

void setup_plan_schema(CLI::App& app, Invocation& invocation)
{
  auto* command = app.add_subcommand("plan-schema", "Print the plan format's JSON Schema (for editors)");
  command->callback([&invocation] { invocation.run = [] { return run_plan_schema(); }; });
}

int run_plan_schema()
{
  std::cout << plans::plan_schema_text();
  return k_exit_ok;
}

} // namespace fleetrun::cli
