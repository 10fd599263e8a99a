// fleetrun completion bash|zsh: a completion script made from the same
// definitions as --help (every subcommand and its options).
#include "cli/commands.hpp"
#include "cli/options.hpp"

#include <iostream>
#include <memory>

namespace fleetrun::cli {

namespace {

// `fleetrun completion bash|zsh`: a completion script made from the same
// definitions as --help (the commands and each command's options).
std::string completion_script(CLI::App& app, const std::string& shell)
{
  std::string commands;
  std::string cases;
  for (auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == "completion") continue;
    commands += (commands.empty() ? "" : " ") + sub->get_name();
    std::string words;
    for (const auto* option : sub->get_options()) {
      for (const auto& name : option->get_lnames()) words += (words.empty() ? "--" : " --") + name;
      for (const auto& name : option->get_snames()) words += (words.empty() ? "-" : " -") + name;
    }
    cases += "    " + sub->get_name() + ") opts=\"" + words + "\" ;;\n";
  }
  std::string globals;
  for (const auto* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) globals += (globals.empty() ? "--" : " --") + name;
  }
  if (shell == "zsh") {
    return "#compdef fleetrun\n# fleetrun completion for zsh (uses the bash completion through bashcompinit)\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           completion_script(app, "bash");
  }
  return "# fleetrun completion for bash: source it, or put it in /usr/share/bash-completion/completions/fleetrun\n"
         "_fleetrun() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" command=\"\" opts=\"\" i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    case \"${COMP_WORDS[i]}\" in\n"
         "      --log-level|--log-format|--log-file) ((i++)) ;;\n"
         "      -*) ;;\n"
         "      *) command=\"${COMP_WORDS[i]}\"; break ;;\n"
         "    esac\n"
         "  done\n"
         "  if [[ -z \"$command\" ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         commands + " " + globals +
         "\" -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  case \"$command\" in\n" +
         cases +
         "  esac\n"
         "  if [[ \"$cur\" == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -o filenames -F _fleetrun fleetrun\n";
}

} // namespace

void setup_completion(CLI::App& app, Invocation& invocation)
{
  auto shell = std::make_shared<std::string>();
  auto* command = app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
  command->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  command->callback([&app, &invocation, shell] {
    invocation.run = [&app, shell] {
      std::cout << completion_script(app, *shell);
      return k_exit_ok;
    };
  });
}

} // namespace fleetrun::cli
