// The scheduling recipes in deploy/: each names the real binary, flags that
// `fleetrun apply` has, and paths that agree with each other; the systemd
// units pass `systemd-analyze verify` where systemd is installed; the
// Kubernetes manifests parse and keep one job at a time with the state on a
// volume and the token from a Secret.
#include "tests/support/required_tool.hpp"
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>

using namespace fleetrun::testing;

namespace {

const std::filesystem::path k_deploy = std::filesystem::path(FLEETRUN_SOURCE_DIR) / "deploy";

std::string read(const std::filesystem::path& path)
{
  std::ifstream in(path);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The flags `fleetrun` and `fleetrun apply` accept, from their --help.
std::set<std::string> apply_flags()
{
  std::set<std::string> flags;
  for (const auto& args : {std::vector<std::string>{"--help"}, std::vector<std::string>{"apply", "--help"}}) {
    const auto help = run_fleetrun(args);
    const std::regex flag(R"(--[a-z][a-z-]*)");
    for (auto it = std::sregex_iterator(help.out.begin(), help.out.end(), flag); it != std::sregex_iterator(); ++it)
      flags.insert(it->str());
  }
  return flags;
}

// The words of a command line (no quoting is used in the recipes).
std::vector<std::string> words_of(const std::string& line)
{
  std::istringstream in(line);
  return {std::istream_iterator<std::string>(in), {}};
}

// Checks one fleetrun command line from a recipe: the installed binary, the
// apply command, every flag known, the scheduling flags present.
void check_command(const std::vector<std::string>& words, const std::set<std::string>& known)
{
  INFO("command: " << [&] {
    std::string joined;
    for (const auto& w : words) joined += w + " ";
    return joined;
  }());
  REQUIRE(!words.empty());
  CHECK(words.front() == "/usr/bin/fleetrun"); // where the .deb installs it
  std::set<std::string> used;
  for (const auto& word : words) {
    if (!word.starts_with("--")) continue;
    CHECK(known.contains(word));
    used.insert(word);
  }
  CHECK(std::find(words.begin(), words.end(), "apply") != words.end());
  for (const char* needed : {"--yes", "--scheduled", "--state"}) CHECK(used.contains(needed));
}

std::string value_after(const std::vector<std::string>& words, const std::string& flag)
{
  const auto found = std::find(words.begin(), words.end(), flag);
  REQUIRE(found != words.end());
  REQUIRE(found + 1 != words.end());
  return *(found + 1);
}

} // namespace

TEST_CASE("the systemd template units name the installed binary and real flags, and an instance passes "
          "systemd-analyze verify",
          "[deploy_recipes]")
{
  const auto known = apply_flags();
  const std::string service = read(k_deploy / "systemd/fleetrun@.service");
  const std::string timer = read(k_deploy / "systemd/fleetrun@.timer");
  std::smatch exec;
  REQUIRE(std::regex_search(service, exec, std::regex(R"(\nExecStart=([^\n]+))")));
  const auto words = words_of(exec[1]);
  check_command(words, known);
  // The instance names the plan, its environment, its token and its state file.
  CHECK(value_after(words, "apply") == "/etc/fleetrun/%i.yaml");
  CHECK(value_after(words, "--state") == "/var/lib/fleetrun/%i.fleetrun.db"); // StateDirectory=fleetrun
  CHECK_THAT(service, Catch::Contains("StateDirectory=fleetrun") && Catch::Contains("SuccessExitStatus=75"));
  CHECK_THAT(service, Catch::Contains("EnvironmentFile=/etc/fleetrun/%i.env"));
  CHECK_THAT(service, Catch::Contains("LoadCredential=losant-token:/etc/fleetrun/%i.token"));
  CHECK(value_after(words, "--token-file") == "${CREDENTIALS_DIRECTORY}/losant-token");
  // The docs they point to are ones the package installs.
  for (const auto* unit : {&service, &timer}) {
    CHECK_THAT(*unit, Catch::Contains("file:///usr/share/doc/fleetrun/SCHEDULING.md"));
  }
  CHECK_THAT(timer, Catch::Contains("WantedBy=timers.target") && Catch::Contains("Persistent=true"));

  if (!require_tool("systemd-analyze", "verifying the systemd units")) return;
  TempDir dir;
  // Verified as an instance (the template loaded through it), with the binary
  // of this build in place of /usr/bin/fleetrun (verify checks it exists).
  write_file(dir / "fleetrun@.service",
             std::regex_replace(service, std::regex("/usr/bin/fleetrun"), std::string(FLEETRUN_BINARY)));
  write_file(dir / "fleetrun@.timer", timer);
  const auto verify_instance = [&](const std::string& instance) {
    const std::string command =
        "systemd-analyze verify --man=no '" + (dir / ("fleetrun@" + instance + ".service")).string() + "' '" +
        (dir / ("fleetrun@" + instance + ".timer")).string() + "' > '" + (dir / "verify.txt").string() + "' 2>&1";
    const int status = std::system(command.c_str());
    INFO(read(dir / "verify.txt"));
    CHECK(status == 0);
    CHECK(read(dir / "verify.txt").empty());
  };
  verify_instance("nightly");
  // The check can fail: a template whose binary is missing is refused.
  write_file(dir / "fleetrun@.service",
             std::regex_replace(service, std::regex("/usr/bin/fleetrun"), (dir / "missing").string()));
  const std::string broken =
      "systemd-analyze verify --man=no '" + (dir / "fleetrun@nightly.service").string() + "' > /dev/null 2>&1";
  CHECK(std::system(broken.c_str()) != 0);
}

TEST_CASE("the crontab line names the installed binary and real flags", "[deploy_recipes]")
{
  const auto known = apply_flags();
  const std::string crontab = read(k_deploy / "cron/fleetrun.crontab");
  std::smatch entry;
  REQUIRE(std::regex_search(crontab, entry, std::regex(R"(\n([0-9*/,-]+ ){5}(/usr/bin/fleetrun[^\n]+))")));
  check_command(words_of(entry[2]), known);
  CHECK_THAT(crontab, !Catch::Contains("LOSANT_API_TOKEN=")); // the token stays in its file
}

TEST_CASE(
    "the Kubernetes CronJob parses, runs one job at a time, keeps the state on a volume and the token in a Secret",
    "[deploy_recipes]")
{
  const auto documents = YAML::LoadAllFromFile((k_deploy / "kubernetes/cronjob.yaml").string());
  REQUIRE(documents.size() == 2);
  const YAML::Node& claim = documents[0];
  const YAML::Node& job = documents[1];
  CHECK(claim["kind"].as<std::string>() == "PersistentVolumeClaim");
  REQUIRE(job["kind"].as<std::string>() == "CronJob");
  CHECK(job["apiVersion"].as<std::string>() == "batch/v1");
  CHECK(job["spec"]["concurrencyPolicy"].as<std::string>() == "Forbid");
  const YAML::Node pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  CHECK(pod["restartPolicy"].as<std::string>() == "Never");
  const YAML::Node container = pod["containers"][0];
  std::vector<std::string> words = {"/usr/bin/fleetrun"}; // the image's ENTRYPOINT
  for (const auto& arg : container["args"]) words.push_back(arg.as<std::string>());
  check_command(words, apply_flags());
  CHECK_THAT(read(k_deploy / "container/Containerfile"), Catch::Contains("ENTRYPOINT [\"/usr/bin/fleetrun\"]"));

  // The state file is on the claim's volume.
  const std::string state = value_after(words, "--state");
  std::string state_volume;
  for (const auto& mount : container["volumeMounts"]) {
    if (state.starts_with(mount["mountPath"].as<std::string>() + "/")) state_volume = mount["name"].as<std::string>();
  }
  REQUIRE_FALSE(state_volume.empty());
  bool on_claim = false;
  for (const auto& volume : pod["volumes"]) {
    if (volume["name"].as<std::string>() == state_volume && volume["persistentVolumeClaim"])
      on_claim =
          volume["persistentVolumeClaim"]["claimName"].as<std::string>() == claim["metadata"]["name"].as<std::string>();
  }
  CHECK(on_claim);
  // The token comes from a Secret, never a literal value.
  bool token_from_secret = false;
  for (const auto& variable : container["env"]) {
    if (variable["name"].as<std::string>() != "LOSANT_API_TOKEN") continue;
    CHECK_FALSE(variable["value"]);
    token_from_secret = static_cast<bool>(variable["valueFrom"]["secretKeyRef"]);
  }
  CHECK(token_from_secret);
}
