// What a refusal says changed between a run's plan and the plan now.
#include "preview/plan_changes.hpp"

#include "plans/plan_parser.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace fleetrun::preview;

using namespace fleetrun;

namespace {

plans::Plan parse(const std::string& text, std::map<std::string, std::string> env = {})
{
  auto parsed = plans::parse_plan(text, "plan.yaml", [env](const std::string& name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  });
  if (!parsed) FAIL(parsed.error().render_all());
  return std::move(*parsed);
}

state::RunRecord recorded(const plans::Plan& plan)
{
  state::RunRecord run;
  run.plan_text = plan.text;
  run.plan_hash = plan.text_hash;
  run.effective_hash = plan.effective_hash;
  run.variables_json = plan.variable_hashes_json();
  return run;
}

const char* k_plan = R"(version: 1
queries:
  north: {query: {tags: {site: "${SITE}"}}}
steps:
  - {id: tag, action: patch, query: north, updateFields: {description: "${TEXT:-checked}"}}
  - {id: ping, action: send_command, query: north, name: ping}
)";

} // namespace

TEST_CASE("an unchanged plan has nothing to describe", "[plan_changes]")
{
  const auto plan = parse(k_plan, {{"SITE", "north"}});
  CHECK(preview::describe_plan_change(recorded(plan), parse(k_plan, {{"SITE", "north"}})).empty());
}

TEST_CASE("a changed line is named by its number, before and after", "[plan_changes]")
{
  const auto earlier = recorded(parse(k_plan, {{"SITE", "north"}}));
  std::string edited = k_plan;
  edited.replace(edited.find("name: ping"), 10, "name: pong");
  const std::string change = preview::describe_plan_change(earlier, parse(edited, {{"SITE", "north"}}));
  CHECK(change == "  line 6 was:   - {id: ping, action: send_command, query: north, name: ping}\n"
                  "  line 6 is:    - {id: ping, action: send_command, query: north, name: pong}\n");
}

TEST_CASE("a step added at the end is shown as new lines only", "[plan_changes]")
{
  const auto earlier = recorded(parse(k_plan, {{"SITE", "north"}}));
  const std::string change = preview::describe_plan_change(
      earlier, parse(std::string(k_plan) + "  - {id: bye, action: delete, query: north}\n", {{"SITE", "north"}}));
  CHECK(change == "  line 7 is:    - {id: bye, action: delete, query: north}\n");
}

TEST_CASE("a variable with another value is named, its values never shown", "[plan_changes]")
{
  const auto earlier = recorded(parse(k_plan, {{"SITE", "north"}, {"TEXT", "secret-ish"}}));
  const std::string change =
      preview::describe_plan_change(earlier, parse(k_plan, {{"SITE", "south"}, {"TEXT", "secret-ish"}}));
  CHECK(change == "  ${SITE} has another value\n");
  CHECK(change.find("north") == std::string::npos);
  CHECK(change.find("south") == std::string::npos);
}

TEST_CASE("many changed lines are cut short", "[plan_changes]")
{
  std::string before = "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps:\n";
  std::string after = before;
  for (int i = 0; i < 20; ++i) {
    before += "  - {id: s" + std::to_string(i) + ", action: delete, query: q}\n";
    after += "  - {id: t" + std::to_string(i) + ", action: delete, query: q}\n";
  }
  const std::string change = preview::describe_plan_change(recorded(parse(before)), parse(after));
  CHECK(change.find("  line 4 was:") == 0);
  CHECK(change.find("(and more lines)") != std::string::npos);
  CHECK(std::count(change.begin(), change.end(), '\n') == 17);
}
