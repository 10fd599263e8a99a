// Where commands find their state file.
#include "cli/state_files.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fstream>

using namespace fleetrun::cli;
using fleetrun::testing::TempDir;

namespace {

// Runs `body` with the current folder set to `dir`.
template <class F> void inside(const TempDir& dir, F body)
{
  const auto previous = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  try {
    body();
  } catch (...) {
    std::filesystem::current_path(previous);
    throw;
  }
  std::filesystem::current_path(previous);
}

} // namespace

TEST_CASE("a plan's state file sits beside it", "[state_files]")
{
  CHECK(default_state_path("plans/retire.yaml") == "plans/retire.fleetrun.db");
  CHECK(default_state_path("retire.yml") == "retire.fleetrun.db");
  CHECK(default_state_path("plan") == "plan.fleetrun.db");
}

TEST_CASE("the state file is --state or the only one here and none or several is an error that says what to do",
          "[state_files]")
{
  TempDir dir;
  inside(dir, [] {
    CHECK(find_state_file(std::string("x.db")).value() == "x.db");
    const auto none = find_state_file(std::nullopt);
    REQUIRE_FALSE(none.has_value());
    CHECK_THAT(none.error(), Catch::Contains("pass --state FILE"));
    std::ofstream("a.fleetrun.db") << "";
    CHECK(find_state_file(std::nullopt).value() == "a.fleetrun.db");
    std::ofstream("b.fleetrun.db") << "";
    const auto several = find_state_file(std::nullopt);
    REQUIRE_FALSE(several.has_value());
    CHECK_THAT(several.error(), Catch::Contains("a.fleetrun.db"));
    CHECK_THAT(several.error(), Catch::Contains("b.fleetrun.db"));
  });
}

TEST_CASE("opening a missing state file names it and the flag", "[state_files]")
{
  TempDir dir;
  const auto missing = open_existing_state((dir / "nope.db").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error(), Catch::Contains("nope.db"));
  CHECK_THAT(missing.error(), Catch::Contains("--state"));
}
