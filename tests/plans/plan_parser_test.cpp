#include "plans/plan_parser.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>

using namespace fleetrun::plans;

namespace {

Environment env_of(std::map<std::string, std::string> values)
{
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

Plan parse_ok(const std::string& text, std::map<std::string, std::string> env = {})
{
  auto plan = parse_plan(text, "plan.yaml", env_of(std::move(env)));
  INFO((plan ? std::string() : plan.error().render_all()));
  REQUIRE(plan.has_value());
  return std::move(*plan);
}

std::vector<std::string> problems(const std::string& text, std::map<std::string, std::string> env = {})
{
  auto plan = parse_plan(text, "plan.yaml", env_of(std::move(env)));
  REQUIRE_FALSE(plan.has_value());
  std::vector<std::string> out;
  for (const auto& d : plan.error().diagnostics) {
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + " " + d.message);
  }
  return out;
}

const std::string k_minimal = R"(version: 1
queries:
  stale:
    query: {connectionStatus: disconnected}
steps:
  - id: retire
    action: delete
    query: stale
)";

} // namespace

TEST_CASE("a minimal plan parses into the model", "[plan_parser]")
{
  const Plan plan = parse_ok(k_minimal);
  REQUIRE(plan.queries.size() == 1);
  CHECK(plan.queries[0].name == "stale");
  CHECK(plan.queries[0].query_json == R"({"connectionStatus":"disconnected"})");
  REQUIRE(plan.steps.size() == 1);
  CHECK(plan.steps[0].action == ActionKind::delete_devices);
  CHECK(plan.steps[0].query == "stale");
  CHECK(plan.steps[0].params_json == "{}");
  CHECK(plan.text_hash.size() == 64);
  CHECK(plan.target.token_env == "LOSANT_API_TOKEN");
  CHECK(plan.options.on_drift == OnDrift::abort);
}

TEST_CASE("the action's Losant fields are kept as written", "[plan_parser]")
{
  const Plan plan = parse_ok(R"(version: 1
queries: {q: {query: {name: x}}}
steps:
  - id: p
    action: patch
    query: q
    batch_size: 500
    updateOperations: [{operation: set, target: tag, value: {key: fw, value: "2"}}]
)");
  CHECK(plan.steps[0].params_json ==
        R"({"updateOperations":[{"operation":"set","target":"tag","value":{"key":"fw","value":"2"}}]})");
  CHECK(plan.steps[0].batch_size == 500);
}

TEST_CASE("YAML scalars resolve as the core schema, quoted stay strings", "[plan_parser]")
{
  const Plan plan = parse_ok(R"(version: 1
queries: {q: {query: {name: x}}}
steps:
  - {id: c, action: send_command, query: q, name: go, payload: {n: 5, f: 1.5, b: true, z: null, s: "5", t: yes}}
)");
  CHECK(nlohmann::json::parse(plan.steps[0].params_json)["payload"] ==
        nlohmann::json{{"n", 5}, {"f", 1.5}, {"b", true}, {"z", nullptr}, {"s", "5"}, {"t", "yes"}});
}

TEST_CASE("${VAR} interpolates from the environment, with defaults and escapes", "[plan_parser]")
{
  const Plan plan = parse_ok(R"(version: 1
queries:
  q: {query: {tags: {site: "${SITE}"}, name: "${NAME:-fallback}"}, filter: "$${literal}"}
steps: [{id: s, action: delete, query: q}]
)",
                             {{"SITE", "north"}});
  CHECK(plan.queries[0].query_json == R"({"name":"fallback","tags":{"site":"north"}})");
  CHECK(plan.queries[0].filter == "${literal}");
}

TEST_CASE("an unset variable is an error at its position", "[plan_parser]")
{
  CHECK(problems(R"(version: 1
queries: {q: {query: {name: "${MISSING}"}}}
steps: [{id: s, action: delete, query: q}]
)") == std::vector<std::string>{
           "2:29 queries.q.query.name: environment variable MISSING is not set (used as ${MISSING})"});
}

TEST_CASE("the token never goes in a plan", "[plan_parser]")
{
  const auto found =
      problems("version: 1\ntarget: {token: abc}\nsteps: [{id: c, action: create, devices: [{name: x}]}]\n");
  REQUIRE(found.size() == 1);
  CHECK(found[0].starts_with("2:10 target.token: a plan never holds the API token"));
  const auto interpolated = problems(R"(version: 1
queries: {q: {query: {name: "${LOSANT_API_TOKEN}"}}}
steps: [{id: s, action: delete, query: q}]
)",
                                     {{"LOSANT_API_TOKEN", "secret"}});
  REQUIRE(interpolated.size() == 1);
  CHECK(interpolated[0].find("would copy the API token") != std::string::npos);
}

TEST_CASE("every problem is reported, in file order, with did-you-mean", "[plan_parser]")
{
  const auto found = problems(R"(version: 1
queries:
  stale: {query: {nmae: x}}
steps:
  - {id: a, action: delet, query: stale}
  - {id: a, action: patch, query: stael, updateFields: {name: x}}
  - {id: b, action: patch, query: stale}
)");
  REQUIRE(found.size() == 5);
  CHECK(found[0] == R"(3:19 queries.stale.query.nmae: unknown field "nmae" (did you mean "name"?))");
  CHECK(found[1] == R"(5:21 steps[0].action: unknown action "delet" (did you mean "delete"?))");
  CHECK(found[2] == R"(6:10 steps[1].id: step id "a" is used by an earlier step; ids must be unique)");
  CHECK(found[3] == R"(6:35 steps[1].query: no query named "stael" in queries (did you mean "stale"?))");
  CHECK(found[4] == "7:5 steps[2]: a patch step needs updateOperations or updateFields");
}

TEST_CASE("Losant field errors name the field inside the step", "[plan_parser]")
{
  const auto found = problems(R"(version: 1
queries: {q: {query: {name: x}}}
steps:
  - id: p
    action: patch
    query: q
    updateOperations:
      - {operation: set, target: systemInterval, value: 1}
)");
  REQUIRE(found.size() == 1);
  CHECK(found[0] == "8:57 steps[0].updateOperations[0].value: must be at least 5");
}

TEST_CASE("a changing step on every device needs allow_whole_fleet", "[plan_parser]")
{
  const std::string plan = R"(version: 1
queries: {all: {query: {}}}
steps: [{id: wipe, action: remove_data, query: all}]
)";
  CHECK(problems(plan).at(0).find("needs allow_whole_fleet: true") != std::string::npos);
  parse_ok(R"(version: 1
queries: {all: {query: {}}}
steps: [{id: wipe, action: remove_data, query: all, allow_whole_fleet: true}]
)");
  parse_ok(R"(version: 1
queries: {all: {}}
steps: [{id: backup, action: export, query: all}]
)");
}

TEST_CASE("restore needs a query over deleted devices, and only restore may use one", "[plan_parser]")
{
  CHECK(problems(R"(version: 1
queries: {q: {query: {name: x}}}
steps: [{id: r, action: restore, query: q}]
)")
            .at(0)
            .find("set deleted: true") != std::string::npos);
  CHECK(problems(R"(version: 1
queries: {q: {query: {name: x}, deleted: true}}
steps: [{id: r, action: delete, query: q}]
)")
            .at(0)
            .find("only a restore step") != std::string::npos);
}

TEST_CASE("YAML syntax errors and duplicate keys", "[plan_parser]")
{
  CHECK(problems("version: 1\nsteps: [\n").at(0).find("invalid YAML") != std::string::npos);
  CHECK(problems("version: 1\nversion: 1\nsteps: []\n").at(0) == R"(2:1 version: duplicate key "version")");
}

TEST_CASE("version and required sections", "[plan_parser]")
{
  const auto found = problems("version: 2\n");
  CHECK(found.size() == 2);
  CHECK(found[0] == "1:1 steps: is required");
  CHECK(found[1] == "1:10 version: must be 1");
}

TEST_CASE("the effective plan hash follows interpolation", "[plan_parser]")
{
  const std::string text =
      "version: 1\nqueries: {q: {query: {name: \"${N}\"}}}\nsteps: [{id: s, action: delete, query: q}]\n";
  const Plan a = parse_ok(text, {{"N", "a"}});
  const Plan b = parse_ok(text, {{"N", "b"}});
  CHECK(a.text_hash == b.text_hash);
  CHECK(a.effective_hash != b.effective_hash);
}

TEST_CASE("diagnostics render with the source line and a caret", "[plan_parser]")
{
  auto plan = parse_plan("version: 1\nsteps:\n  - {id: a, action: delet}\n", "p.yaml", env_of({}));
  REQUIRE_FALSE(plan.has_value());
  CHECK(plan.error().render_all() ==
        "p.yaml:3:21: error: steps[0].action: unknown action \"delet\" (did you mean \"delete\"?)\n"
        " 3 |   - {id: a, action: delet}\n"
        "   |                     ^\n");
}

TEST_CASE("the plan schema is self-contained and matches plans/plan.schema.json", "[plan_parser]")
{
  const auto schema = nlohmann::json::parse(plan_schema_text());
  CHECK(schema["definitions"]["losant_devicesPatch"]["properties"].contains("updateOperations"));
  CHECK(schema["definitions"]["advancedDeviceQuery"]["properties"].contains("$or"));
  CHECK_FALSE(plan_schema_text().find("$losant") != std::string::npos);
}

// ---- hostile and broken plans (issue 10): exit 2 with a position, never a crash ------------

namespace {

// Every problem must have a position: file:1:1 at the least.
std::vector<std::string> problems_with_positions(const std::string& text, std::map<std::string, std::string> env = {})
{
  auto plan = parse_plan(text, "plan.yaml", env_of(std::move(env)));
  REQUIRE_FALSE(plan.has_value());
  std::vector<std::string> out;
  for (const auto& d : plan.error().diagnostics) {
    CHECK(d.location.line > 0);
    CHECK(d.location.column > 0);
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + " " + d.message);
  }
  CHECK_THAT(plan.error().render_all(), Catch::StartsWith("plan.yaml:"));
  return out;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& text)
{
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

} // namespace

TEST_CASE("an alias that refers to itself is refused at its position, not followed for ever", "[plan_parser]")
{
  const auto found = problems_with_positions(
      "version: 1\nqueries:\n  q: &a {query: {name: x}, expect: *a}\nsteps:\n  - {id: s, action: delete, query: q}\n");
  CHECK(any_contains(found, "nests more than 64 levels"));
}

TEST_CASE("an alias bomb is refused by counting nodes as expanded", "[plan_parser]")
{
  std::string text = "version: 1\nx0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (int i = 1; i <= 8; ++i) {
    text += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  text += "queries: {q: {query: {name: x}}}\nsteps: [{id: s, action: delete, query: q}]\n";
  const auto found = problems_with_positions(text);
  CHECK(any_contains(found, "more than 200000 YAML nodes"));
}

TEST_CASE("values of the wrong type are problems with positions, never exceptions", "[plan_parser]")
{
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"name: 123\n", "name"},
      {"description: true\n", "description"},
      {"options: {on_drift: abort, concurrency: \"four\"}\n", "concurrency"},
      {"target: {application: 42, api_url: [1]}\n", "target"},
      {"options: {on_drift: 7}\n", "on_drift"},
  };
  for (const auto& [extra, field] : cases) {
    INFO(extra);
    const auto found = problems_with_positions(k_minimal + extra);
    CHECK(any_contains(found, field));
  }
  const auto deleted_null = problems_with_positions(R"(version: 1
queries: {q: {query: {name: x}, deleted: ~}}
steps:
  - {id: s, action: restore, query: q}
)");
  CHECK(any_contains(deleted_null, "deleted"));
  const auto query_list = problems_with_positions(R"(version: 1
queries: {q: {query: {name: x}}}
steps:
  - {id: s, action: delete, query: []}
)");
  CHECK(any_contains(query_list, "steps[0].query"));
}

TEST_CASE("whole-file problems say file:1:1: empty, NUL, not UTF-8, truncated", "[plan_parser]")
{
  CHECK(any_contains(problems_with_positions(""), "the plan is empty"));
  CHECK(any_contains(problems_with_positions("   \n\n"), "the plan is empty"));
  CHECK(any_contains(problems_with_positions(std::string("\0version: 1\n", 12)), "NUL byte"));
  const auto latin1 = problems_with_positions("version: 1\nname: caf\xE9\n");
  CHECK(any_contains(latin1, "2:10 the plan is not valid UTF-8 here (byte 0xE9)"));
  const auto truncated = problems_with_positions(k_minimal.substr(0, 45));
  CHECK_FALSE(truncated.empty());
  const auto from_env = problems_with_positions(k_minimal + "description: \"${SITE}\"\n", {{"SITE", "caf\xE9"}});
  INFO(from_env.front());
  CHECK(any_contains(from_env, "description: the value is not valid UTF-8"));
}

TEST_CASE("line ends of CR alone or CR LF read like LF, with the right positions", "[plan_parser]")
{
  std::string cr = k_minimal;
  std::replace(cr.begin(), cr.end(), '\n', '\r');
  CHECK(parse_plan(cr, "plan.yaml", env_of({})).has_value());
  std::string crlf;
  for (const char c : k_minimal + "bogus: 1\n") crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  const auto found = problems_with_positions(crlf);
  CHECK(any_contains(found, "9:1"));
}

TEST_CASE("a plan larger than the limit is refused before it is parsed", "[plan_parser]")
{
  const std::string huge = k_minimal + "description: \"" + std::string(k_max_plan_bytes, 'x') + "\"\n";
  const auto found = problems_with_positions(huge);
  CHECK(any_contains(found, "1:1 the plan is larger than 4 MiB"));
}

TEST_CASE("a token is refused under any token-like field at any depth", "[plan_parser]")
{
  const auto in_options = problems_with_positions(k_minimal + "options: {token: abc}\n");
  CHECK(any_contains(in_options, "options.token: a plan never holds the API token"));
  const auto in_query = problems_with_positions(R"(version: 1
queries: {q: {query: {name: x}, apiToken: abc}}
steps: [{id: s, action: delete, query: q}]
)");
  CHECK(any_contains(in_query, "queries.q.apiToken"));
  const auto in_step = problems_with_positions(R"(version: 1
queries: {q: {query: {name: x}}}
steps:
  - {id: s, action: delete, query: q, access_token: abc}
)");
  CHECK(any_contains(in_step, "steps[0].access_token"));
}

TEST_CASE("a value that holds the token, typed or through ${VAR}, is refused without showing it", "[plan_parser]")
{
  const std::map<std::string, std::string> env = {{"LOSANT_API_TOKEN", "s3cr3t-t0ken-value"},
                                                  {"MYTOK", "s3cr3t-t0ken-value"}};
  const std::string via_var = R"(version: 1
queries: {q: {query: {name: x}}}
steps:
  - {id: s, action: send_command, query: q, name: go, payload: {auth: "${MYTOK}"}}
)";
  auto plan = parse_plan(via_var, "plan.yaml", env_of(env));
  REQUIRE_FALSE(plan.has_value());
  CHECK_THAT(plan.error().render_all(), Catch::Contains("holds the API token (the value of $LOSANT_API_TOKEN)"));
  CHECK_THAT(plan.error().render_all(), !Catch::Contains("s3cr3t-t0ken-value"));

  const std::string in_comment = k_minimal + "# s3cr3t-t0ken-value\n";
  auto commented = parse_plan(in_comment, "plan.yaml", env_of(env));
  REQUIRE_FALSE(commented.has_value());
  CHECK_THAT(commented.error().render_all(), Catch::Contains("plan.yaml:9:3"));
  CHECK_THAT(commented.error().render_all(), Catch::Contains("text holds the API token"));
}
