// fleetrun validate: checks plans and reports every problem with its
// file:line:col, a caret and a suggestion; sends nothing.
#include "cli/commands.hpp"
#include "cli/options.hpp"

#include "plans/plan_parser.hpp"

#include <iostream>
#include <memory>

namespace fleetrun::cli {

void setup_validate(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<ValidateOptions>();
  auto* command = app.add_subcommand("validate", "Check plans and report every problem (file:line:col); sends nothing");
  command->add_option("plans", options->plans, "plan files")->required()->check(CLI::ExistingFile);
  command->callback([&invocation, options] { invocation.run = [options] { return run_validate(*options); }; });
}

int run_validate(const ValidateOptions& options)
{
  int worst = k_exit_ok;
  for (const auto& path : options.plans) {
    auto plan = plans::load_plan_file(path, plans::process_environment());
    if (!plan) {
      std::cerr << plan.error().render_all();
      std::cerr << path << ": " << plan.error().diagnostics.size()
                << (plan.error().diagnostics.size() == 1 ? " problem" : " problems") << "\n";
      worst = k_exit_usage;
      continue;
    }
    std::cout << path << ": ok (" << plan->queries.size() << (plan->queries.size() == 1 ? " query, " : " queries, ")
              << plan->steps.size() << (plan->steps.size() == 1 ? " step" : " steps") << ")\n";
  }
  return worst;
}

} // namespace fleetrun::cli
