#include "runner/commands.hpp"
#include "runner/exit_codes.hpp"

#include "plans/plan_parser.hpp"

#include <iostream>

namespace fleetrun::runner {

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

int run_plan_schema()
{
  std::cout << plans::plan_schema_text();
  return k_exit_ok;
}

} // namespace fleetrun::runner
