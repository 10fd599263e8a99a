// The manual pages are made from the command definitions themselves: every
// option a command has is on its page, flags without a value, the exit codes
// on fleetrun(1); and text is escaped for roff.
#include "cli/man_pages.hpp"

#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>

#include <map>

using namespace fleetrun::cli;

namespace {

std::map<std::string, std::string> pages_of(CLI::App& app)
{
  std::map<std::string, std::string> pages;
  for (auto& [name, text] : manual_pages(app, "9.9.9")) pages[name] = text;
  return pages;
}

} // namespace

TEST_CASE("roff_escape: backslashes, hyphens and a leading dot or quote", "[man_pages]")
{
  CHECK(roff_escape("--state FILE") == "\\-\\-state FILE");
  CHECK(roff_escape("C:\\path") == "C:\\epath");
  CHECK(roff_escape(".hidden\n'quoted\nplain") == "\\&.hidden\n\\&'quoted\nplain");
  CHECK(roff_escape("a.b 'c'") == "a.b 'c'"); // only at the start of a line
}

TEST_CASE("each command's page lists every option it has, flags without a value", "[man_pages]")
{
  CLI::App app{"fleetrun"};
  Invocation invocation;
  setup_apply(app, invocation);
  setup_resume(app, invocation);
  setup_man(app, invocation);
  const auto pages = pages_of(app);
  REQUIRE(pages.contains("fleetrun.1"));
  REQUIRE(pages.contains("fleetrun-apply.1"));
  REQUIRE(pages.contains("fleetrun-resume.1"));
  CHECK_FALSE(pages.contains("fleetrun-man.1")); // hidden from --help, and from the manual
  CHECK(pages.size() == 3);

  const std::string& apply = pages.at("fleetrun-apply.1");
  CHECK(apply.starts_with(".TH FLEETRUN-APPLY 1 "));
  CHECK_THAT(apply, Catch::Contains("fleetrun 9.9.9"));
  int options = 0;
  for (const auto* option : app.get_subcommand("apply")->get_options()) {
    for (const auto& name : option->get_lnames()) {
      if (name == "help") continue;
      ++options;
      INFO("--" << name);
      CHECK_THAT(apply, Catch::Contains(roff_escape("--" + name)));
    }
  }
  CHECK(options >= 20);
  CHECK_THAT(apply, Catch::Contains(".B \\-y, \\-\\-yes\n"));  // a flag: no value
  CHECK_THAT(apply, Catch::Contains(".B \\-\\-state TEXT\n")); // an option: its value
  CHECK_THAT(apply, Catch::Contains("\n.SH EXIT STATUS\n"));
  CHECK_THAT(apply, Catch::Contains(".BR fleetrun (1),\n"));       // SEE ALSO, one a line
  CHECK_THAT(apply, Catch::Contains(".BR fleetrun\\-plan (5)\n")); // the last, no comma
}

TEST_CASE("fleetrun(1) lists the commands, every exit code, the environment, the files and examples", "[man_pages]")
{
  CLI::App app{"fleetrun"};
  Invocation invocation;
  setup_apply(app, invocation);
  setup_status(app, invocation);
  const std::string main = pages_of(app).at("fleetrun.1");
  for (const char* section :
       {"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"}) {
    INFO(section);
    CHECK_THAT(main, Catch::Contains(std::string("\n.SH ") + section + "\n"));
  }
  CHECK_THAT(main, Catch::Contains(".TP\n.B apply\n") && Catch::Contains(".TP\n.B status\n"));
  for (const auto& [code, meaning] : k_exit_meanings) {
    CHECK_THAT(main, Catch::Contains(".B " + std::to_string(code) + "\n" + roff_escape(meaning) + "\n"));
  }
  for (const char* variable : {"LOSANT_API_URL", "LOSANT_APPLICATION_ID", "LOSANT_API_TOKEN"}) {
    CHECK_THAT(main, Catch::Contains(std::string(".B ") + variable + "\n"));
  }
  CHECK_THAT(main, Catch::Contains("fleetrun resume \\-\\-state"));
  CHECK_THAT(main, Catch::Contains("fleetrun@nightly.timer"));
}
