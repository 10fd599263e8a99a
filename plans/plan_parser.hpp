#pragma once
// Turns a plan file into a Plan, or every problem in it: YAML syntax, the
// plan schema (plans/plan.schema.json, which embeds Losant's official
// schemas), ${VAR} interpolation, references between queries and steps,
// tokens written into the plan. Never stops at the first problem.

#include "plans/diagnostic.hpp"
#include "plans/plan.hpp"

#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::plans {

// The largest plan file read; a larger one is refused (exit 2) without being
// read whole. Docs: docs/PLAN-FORMAT.md, "Limits".
inline constexpr std::size_t k_max_plan_bytes = 4 * 1024 * 1024;

struct ParseFailure {
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> source_lines;
  std::string render_all() const; // every diagnostic, rendered, newline separated
};

using Environment = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment.
Environment process_environment();

std::expected<Plan, ParseFailure> parse_plan(const std::string& text, const std::string& file, const Environment& env);
std::expected<Plan, ParseFailure> load_plan_file(const std::string& path, const Environment& env);

// The plan format's JSON Schema, self-contained (for editors; `fleetrun plan-schema`).
const std::string& plan_schema_text();

} // namespace fleetrun::plans
