// fleetrun man DIR (hidden from --help): writes the manual pages
// (cli/man_pages.hpp) into DIR; the build makes the package's pages with it.
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/man_pages.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <memory>

namespace fleetrun::cli {

void setup_man(CLI::App& app, Invocation& invocation)
{
  auto dir = std::make_shared<std::string>();
  auto* command = app.add_subcommand("man", "Write the manual pages into a folder (for packaging)");
  command->group(""); // not listed in --help
  command->add_option("dir", *dir, "the folder")->required();
  command->callback([&app, &invocation, dir] {
    invocation.run = [&app, dir] {
      std::error_code error;
      std::filesystem::create_directories(*dir, error);
      for (const auto& [name, text] : manual_pages(app, FLEETRUN_VERSION)) {
        const auto path = std::filesystem::path(*dir) / name;
        std::ofstream out(path, std::ios::binary);
        out << text;
        if (!out) throw UsageError("cannot write " + path.string());
      }
      return k_exit_ok;
    };
  });
}

} // namespace fleetrun::cli
