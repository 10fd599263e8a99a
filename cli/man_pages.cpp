#include "cli/man_pages.hpp"

#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <cctype>

namespace fleetrun::cli {

namespace {

constexpr const char* k_date = "2026-12-07";

std::string header(const std::string& name, int section, const std::string& version)
{
  return ".TH " + name + " " + std::to_string(section) + " \"" + k_date + "\" \"fleetrun " + version +
         "\" \"fleetrun manual\"\n";
}

// An option as the reader types it: "--state FILE", "-o, --output FILE".
std::string option_synopsis(const CLI::Option& option)
{
  std::string names;
  for (const auto& name : option.get_snames()) names += (names.empty() ? "" : ", ") + std::string("-") + name;
  for (const auto& name : option.get_lnames()) names += (names.empty() ? "" : ", ") + std::string("--") + name;
  if (names.empty()) return option.get_name(); // a positional argument
  // As --help shows it: a flag has no type name, an option its value's.
  if (option.get_type_size() != 0 && !option.get_type_name().empty()) names += " " + option.get_type_name();
  return names;
}

std::string options_section(const CLI::App& app, const std::string& title)
{
  std::string out;
  for (const auto* option : app.get_options()) {
    if (option->get_lnames().empty() && option->get_snames().empty() && option->get_name().empty()) continue;
    if (option->get_name() == "--help" || option->get_name() == "-h,--help") continue;
    if (out.empty()) out = ".SH " + title + "\n";
    out += ".TP\n.B " + roff_escape(option_synopsis(*option)) + "\n";
    std::string text = option->get_description();
    const std::string fallback = option->get_default_str();
    if (!fallback.empty()) text += " (default: " + fallback + ")";
    if (option->get_required()) text += " (required)";
    out += roff_escape(text.empty() ? "-" : text) + "\n";
  }
  return out;
}

std::string synopsis_of(const CLI::App& sub)
{
  std::string positionals;
  bool options = false;
  for (const auto* option : sub.get_options()) {
    if (option->get_lnames().empty() && option->get_snames().empty()) {
      if (option->get_name().empty()) continue;
      std::string name = option->get_name();
      const bool many = option->get_expected_max() > 1;
      positionals += " " + (option->get_required() ? name : "[" + name + "]") + (many ? "..." : "");
    } else if (option->get_name() != "--help") {
      options = true;
    }
  }
  return ".B fleetrun " + sub.get_name() + "\n" + roff_escape((options ? "[OPTIONS]" : "") + positionals) + "\n";
}

std::string see_also(const CLI::App& app, const std::string& except)
{
  std::vector<std::string> pages;
  if (except != "fleetrun") pages.emplace_back("fleetrun (1)");
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty() || sub->get_name() == except) continue;
    pages.push_back("fleetrun-" + sub->get_name() + " (1)");
  }
  pages.emplace_back("fleetrun-plan (5)");
  // One reference a line: .BR sets the name bold and the section roman.
  std::string out = ".SH SEE ALSO\n";
  for (std::size_t i = 0; i < pages.size(); ++i)
    out += ".BR " + roff_escape(pages[i]) + (i + 1 < pages.size() ? ",\n" : "\n");
  return out;
}

std::string main_page(CLI::App& app, const std::string& version)
{
  std::string page = header("FLEETRUN", 1, version);
  page += ".SH NAME\nfleetrun \\- preview, apply and resume bulk operations on the devices of a Losant application\n";
  page += ".SH SYNOPSIS\n.B fleetrun\n[GLOBAL OPTIONS]\n.I command\n[OPTIONS]\n";
  page += ".SH DESCRIPTION\n" +
          roff_escape("fleetrun runs bulk operations on the devices of a Losant IoT application. A YAML plan "
                      "(fleetrun-plan(5)) names device queries and steps: delete, patch, remove_data, send_command, "
                      "export, create, restore. `fleetrun plan` previews a plan without changing anything; `fleetrun "
                      "apply` executes it through the Losant REST API, recording every batch and every job the API "
                      "enqueued in an SQLite state file; `fleetrun resume` continues an interrupted run exactly "
                      "where it stopped, sending no batch twice. `fleetrun sandbox` serves a local "
                      "Losant-compatible Devices API to rehearse against, with no credentials.") +
          "\n";
  page += ".SH COMMANDS\n";
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue; // hidden
    page += ".TP\n.B " + sub->get_name() + "\n" + roff_escape(sub->get_description()) + " (fleetrun-" +
            sub->get_name() + "(1)).\n";
  }
  page += options_section(app, "GLOBAL OPTIONS");
  page += ".SH EXIT STATUS\n";
  for (const auto& [code, meaning] : k_exit_meanings)
    page += ".TP\n.B " + std::to_string(code) + "\n" + roff_escape(meaning) + "\n";
  page += ".SH ENVIRONMENT\n"
          ".TP\n.B LOSANT_API_URL\nThe API's base URL (default https://api.losant.com); --api-url wins over it, it "
          "wins over the plan's target.api_url.\n"
          ".TP\n.B LOSANT_APPLICATION_ID\nThe application the plan works on; --application wins over it, it wins over "
          "the plan's target.application_id.\n"
          ".TP\n.B LOSANT_API_TOKEN\nThe API token (or the variable the plan's target.token_env or --token-env names; "
          "--token-file reads it from a file instead). It is never written to logs, state files or reports.\n"
          ".TP\n.I others\nThe variables a plan names: its ${VAR} substitutions, target.token_env, "
          "notify.webhook_url_env.\n";
  page += ".SH FILES\n"
          ".TP\n.I PLAN.fleetrun.db\n" +
          roff_escape("The state file (SQLite) beside the plan, or the one --state names: every run, its device "
                      "lists, steps, batches, jobs and events. `status`, `runs`, `report`, `prune`, `migrate` and "
                      "`resume` use the only *.fleetrun.db in the current directory when --state is not given.") +
          "\n"
          ".TP\n.I /usr/share/fleetrun/examples/\nExample plans.\n"
          ".TP\n.I /usr/share/fleetrun/plan.schema.json\nThe plan format's JSON Schema (also `fleetrun plan-schema`).\n"
          ".TP\n.I /etc/fleetrun/NAME.yaml, /etc/fleetrun/NAME.env, /etc/fleetrun/NAME.token\n" +
          roff_escape("A scheduled plan, its environment (LOSANT_API_URL, LOSANT_APPLICATION_ID) and its API token "
                      "(mode 0600), for the systemd units fleetrun@NAME.service and fleetrun@NAME.timer (shipped "
                      "disabled); the state file is /var/lib/fleetrun/NAME.fleetrun.db.") +
          "\n"
          ".TP\n.I /usr/share/doc/fleetrun/\nThe plan format, the command line, the state file, scheduling.\n";
  page += ".SH EXAMPLES\n"
          "Check a plan, preview it, and apply exactly the devices the preview showed:\n"
          ".PP\n.nf\n.RS\n"
          "fleetrun validate retire.yaml\n"
          "fleetrun plan retire.yaml\n"
          "fleetrun runs\n"
          "fleetrun apply retire.yaml \\-\\-from\\-preview r\\-20261207\\-021500\\-3f2a\n"
          ".RE\n.fi\n.PP\n"
          "After a crash, a reboot or Ctrl\\-C (exit 130), continue the run where it stopped, then see what it did:\n"
          ".PP\n.nf\n.RS\n"
          "fleetrun resume \\-\\-state retire.fleetrun.db\n"
          "fleetrun status \\-\\-state retire.fleetrun.db\n"
          "fleetrun report \\-\\-state retire.fleetrun.db \\-\\-format csv \\-o retire.csv\n"
          ".RE\n.fi\n.PP\n"
          "Rehearse against the built\\-in sandbox:\n"
          ".PP\n.nf\n.RS\n"
          "fleetrun sandbox \\-\\-devices 5000 \\-\\-port 8080 &\n"
          "LOSANT_API_URL=http://127.0.0.1:8080 LOSANT_API_TOKEN=sandbox\\-token \\e\n"
          "  fleetrun plan retire.yaml \\-\\-application 5f1a2b3c4d5e6f7a8b9c0d1e\n"
          ".RE\n.fi\n.PP\n"
          "Apply /etc/fleetrun/nightly.yaml every night:\n"
          ".PP\n.nf\n.RS\n"
          "systemctl enable \\-\\-now fleetrun@nightly.timer\n"
          ".RE\n.fi\n";
  page += see_also(app, "fleetrun");
  return page;
}

std::string command_page(CLI::App& app, CLI::App& sub, const std::string& version)
{
  const std::string name = "fleetrun-" + sub.get_name();
  std::string upper;
  for (const char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string page = header(upper, 1, version);
  std::string summary = sub.get_description();
  if (!summary.empty()) summary[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(summary[0])));
  page += ".SH NAME\n" + roff_escape(name) + " \\- " + roff_escape(summary) + "\n";
  page += ".SH SYNOPSIS\n" + synopsis_of(sub);
  page += ".SH DESCRIPTION\n" + roff_escape(sub.get_description()) + ".\n";
  if (!sub.get_footer().empty()) page += ".PP\n" + roff_escape(sub.get_footer()) + "\n";
  page += ".PP\nThe global options of fleetrun(1) (\\-\\-log\\-level, \\-\\-log\\-format, \\-\\-log\\-file) may "
          "come before or after the command.\n";
  page += options_section(sub, "OPTIONS");
  page += ".SH EXIT STATUS\nAs in\n.BR fleetrun (1):\n";
  for (const auto& [code, meaning] : k_exit_meanings)
    page += ".TP\n.B " + std::to_string(code) + "\n" + roff_escape(meaning) + "\n";
  page += see_also(app, sub.get_name());
  return page;
}

} // namespace

std::string roff_escape(const std::string& text)
{
  std::string out;
  bool line_start = true;
  for (const char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> manual_pages(CLI::App& app, const std::string& version)
{
  std::vector<std::pair<std::string, std::string>> pages;
  pages.emplace_back("fleetrun.1", main_page(app, version));
  for (auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue; // hidden: `man` itself
    pages.emplace_back("fleetrun-" + sub->get_name() + ".1", command_page(app, *sub, version));
  }
  return pages;
}

} // namespace fleetrun::cli
