// Fuzz target: any bytes as a plan file. The parser must answer with a plan
// or with diagnostics (each with a position), never crash, hang or blow up.
#include "plans/plan_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  const std::string text(reinterpret_cast<const char*>(data), size);
  const fleetrun::plans::Environment env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "LOSANT_API_TOKEN") return std::string("fuzz-token-value");
    if (name == "SITE") return std::string("north");
    return std::nullopt;
  };
  auto plan = fleetrun::plans::parse_plan(text, "fuzz.yaml", env);
  if (!plan) {
    for (const auto& diagnostic : plan.error().diagnostics) {
      if (diagnostic.location.line < 1 || diagnostic.location.column < 1) std::abort(); // every problem has a position
    }
    (void)plan.error().render_all();
  } else {
    (void)plan->effective_json.size();
  }
  return 0;
}
