#pragma once
// A test that needs a tool outside this build (systemd-analyze, script):
// scripts/setup.sh installs it. Where it is missing anyway, a developer's run
// warns and leaves that check out; under CI=true the test fails, so that a
// check cannot silently stop checking.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

namespace fleetrun::testing {

inline bool in_ci()
{
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string_view(ci) == "true";
}

// True when `tool` is on PATH. Otherwise fails the test under CI=true, or
// warns and returns false.
inline bool require_tool(const std::string& tool, const std::string& needed_for)
{
  if (std::system(("command -v " + tool + " > /dev/null 2>&1").c_str()) == 0) return true;
  if (in_ci()) FAIL(tool << " is not installed (scripts/setup.sh installs it); needed for " << needed_for);
  WARN(tool << " is not installed: " << needed_for << " was not checked (scripts/setup.sh installs it)");
  return false;
}

} // namespace fleetrun::testing
