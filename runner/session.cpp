#include "runner/session.hpp"

#include "api/device_page.hpp"

#include "jobs/patch_step.hpp"
#include "jobs/query_resolution.hpp"
#include "jobs/step_kind.hpp"
#include "losant/time_format.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace fleetrun::runner {

using nlohmann::json;

namespace {

std::string env_value(const char* name)
{
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string with_commas(std::int64_t n)
{
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  if (n < 0) out.push_back('-');
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::int64_t requests_for(std::int64_t devices, int batch)
{
  return devices == 0 ? 0 : (devices + batch - 1) / batch;
}

} // namespace

ConnectionOptions effective_connection(const ConnectionOptions& flags, const plans::Plan* plan)
{
  ConnectionOptions out = flags;
  const auto pick = [](std::initializer_list<std::string> choices, const std::string& fallback) {
    for (const auto& choice : choices) {
      if (!choice.empty()) return choice;
    }
    return fallback;
  };
  out.api_url =
      pick({flags.api_url, env_value("LOSANT_API_URL"), plan ? plan->target.api_url : ""}, "https://api.losant.com");
  out.application_id =
      pick({flags.application_id, env_value("LOSANT_APPLICATION_ID"), plan ? plan->target.application_id : ""}, "");
  out.token_env = pick({flags.token_env, plan ? plan->target.token_env : ""}, "LOSANT_API_TOKEN");
  out.token_file = pick({flags.token_file, plan ? plan->target.token_file : ""}, "");
  return out;
}

std::string default_state_path(const std::string& plan_path)
{
  std::filesystem::path path(plan_path);
  path.replace_extension(".fleetrun.db");
  return path.string();
}

api::ApiResult get_with_retries(const std::function<api::ApiResult()>& call, const BackoffPolicy& policy,
                                PreparationContext& context)
{
  std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    for (RateLimiter::Clock::duration wait{}; !context.limiter.try_acquire(RateLimiter::Clock::now(), wait);) {
      std::this_thread::sleep_for(wait);
    }
    ++context.counters.requests;
    auto result = call();
    if (result) {
      context.limiter.on_success(RateLimiter::Clock::now());
      return result;
    }
    count_failure(context.counters, result.error());
    if (result.error().status == 429) context.limiter.on_throttled(RateLimiter::Clock::now());
    if (result.error().kind == api::ErrorKind::auth || result.error().kind == api::ErrorKind::permanent ||
        attempt >= policy.max_attempts || context.stop_requested.load()) {
      return result;
    }
    ++context.counters.retries;
    const auto delay = backoff_delay(policy, attempt + 1, result.error().retry_after_s, rng);
    spdlog::debug("GET failed ({}); retrying in {} ms", result.error().describe(), delay.count());
    std::this_thread::sleep_for(delay);
  }
}

namespace {

// A patch step's changes to one device, from its document. Of each document
// only the fields the patch reads are parsed: parsing all of it into a tree
// was most of a large preview's time.
class PatchChangeReader {
public:
  explicit PatchChangeReader(const plans::Step& step)
      : m_params(json::parse(step.params_json)), m_read(jobs::patch_fields_read(m_params))
  {
  }

  // The document's fields the patch reads (into `fields`) and the changes.
  // `origin` says where the document came from, for the error.
  std::vector<jobs::FieldChange> changes(const std::string& id, const std::string& document, const char* origin,
                                         json& fields) const
  {
    auto members = api::read_members(document, m_read);
    if (!members) throw std::runtime_error("device " + id + " " + origin + ": " + members.error());
    fields = std::move(*members);
    return jobs::patch_changes(fields, m_params);
  }

private:
  json m_params;
  std::set<std::string> m_read;
};

} // namespace

void PatchTally::add(const std::vector<jobs::FieldChange>& device_changes)
{
  ++devices;
  for (const auto& change : device_changes) ++changes[change.field][{change.before.dump(), change.after.dump()}];
}

std::expected<void, api::ApiError> resolve_queries(state::StateStore& store, const plans::Plan& plan,
                                                   const std::string& run_id, api::LosantClient& client,
                                                   PreparationContext& context, PatchTallies* tallies)
{
  std::set<std::string> used;
  for (const auto& step : plan.steps) {
    if (!step.query.empty()) used.insert(step.query);
  }
  const BackoffPolicy policy;
  for (const auto& spec : plan.queries) {
    if (!used.contains(spec.name)) continue;
    store.clear_query_devices(run_id, spec.name);
    store.upsert_query({run_id, spec.name, spec.query_json, 0, false});
    const auto fetch = [&](const api::DeviceListParams& params) {
      return get_with_retries([&] { return client.get_devices(params); }, policy, context);
    };
    // The patch steps over this query: their changes are counted as pages
    // arrive, while the next page is being fetched.
    std::vector<std::pair<PatchTally*, PatchChangeReader>> counted;
    for (std::size_t i = 0; tallies != nullptr && i < plan.steps.size(); ++i) {
      const auto& step = plan.steps[i];
      if (step.query != spec.name || step.action != plans::ActionKind::patch) continue;
      (*tallies)[i] = PatchTally{};
      counted.emplace_back(&(*tallies)[i], PatchChangeReader(step));
    }
    // Each page is one transaction; the list is marked resolved only at the
    // end. A list not marked resolved is fetched again, so its pages need not
    // each be forced to disk: they commit without an fsync, except every 8th
    // (synced while the next page is fetched, so that little is left for the
    // end), and the commit that marks the list resolved syncs the rest.
    state::RelaxedDurability relaxed(store);
    int pages = 0;
    const auto total = jobs::resolve_query(spec, fetch, [&](jobs::DevicePage&& page) {
      const bool sync = ++pages % 8 == 0;
      if (sync) relaxed.restore();
      store.append_devices(run_id, spec.name, page);
      if (sync) relaxed.relax();
      json fields;
      for (auto& [tally, reader] : counted) {
        for (const auto& [id, document] : page) tally->add(reader.changes(id, document, "from the API", fields));
      }
    });
    if (!total) return std::unexpected(total.error());
    relaxed.restore();
    store.upsert_query({run_id, spec.name, spec.query_json, *total, true});
    spdlog::info("query {}: {} devices", spec.name, *total);
  }
  return {};
}

std::expected<std::vector<GuardViolation>, api::ApiError>
check_guards(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
             api::LosantClient& client, PreparationContext& context)
{
  std::vector<GuardViolation> violations;
  for (const auto& spec : plan.queries) {
    const auto record = store.query(snapshot_run, spec.name);
    if (!record) continue;
    if (spec.expect_min && record->total < *spec.expect_min) {
      violations.push_back({"queries." + spec.name + ".expect",
                            "query " + spec.name + " matches " + std::to_string(record->total) +
                                " devices, fewer than expect.min " + std::to_string(*spec.expect_min)});
    }
    if (spec.expect_max && record->total > *spec.expect_max) {
      violations.push_back({"queries." + spec.name + ".expect",
                            "query " + spec.name + " matches " + std::to_string(record->total) +
                                " devices, more than expect.max " + std::to_string(*spec.expect_max)});
    }
  }
  // The whole-fleet guard: a changing step whose query matches every device of
  // the application, however the query is written.
  std::optional<std::int64_t> fleet_size;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    if (!plans::changes_devices(step.action) || step.allow_whole_fleet || step.query.empty()) continue;
    const auto record = store.query(snapshot_run, step.query);
    if (!record || record->total == 0) continue;
    if (!fleet_size) {
      api::DeviceListParams all;
      all.per_page = 1;
      auto page = get_with_retries([&] { return client.get_devices(all); }, BackoffPolicy{}, context);
      if (!page) return std::unexpected(page.error());
      fleet_size = json::parse(page->body).value("totalCount", std::int64_t{0});
    }
    if (record->total >= *fleet_size) {
      violations.push_back({"steps[" + std::to_string(i) + "] (" + step.id + ")",
                            "step " + step.id + " would " + std::string(plans::action_name(step.action)) +
                                " every device of the application (" + std::to_string(record->total) +
                                "); add allow_whole_fleet: true to the step if that is meant"});
    }
  }
  return violations;
}

namespace {

json time_text(const json& value, const char* fallback)
{
  if (!value.is_number()) return fallback;
  const auto ms = value.get<std::int64_t>();
  if (ms == 0) return "now";
  if (ms < 0) return std::to_string(-ms / 1000) + " s before now";
  return losant::format_iso8601_ms(ms);
}

} // namespace

void visit_step_devices(const state::StateStore& store, const std::string& snapshot_run, const plans::Step& step,
                        bool with_changes, const DeviceVisitor& visit)
{
  const bool patch = with_changes && step.action == plans::ActionKind::patch;
  const std::optional<PatchChangeReader> reader = patch ? std::optional(PatchChangeReader(step)) : std::nullopt;
  json fields;
  store.for_each_device(snapshot_run, step.query, patch, [&](const std::string& id, const std::string& document) {
    if (!reader) {
      visit(id, nullptr, {});
      return;
    }
    const auto changes = reader->changes(id, document, "in the state file", fields);
    visit(id, &fields, changes);
  });
}

void write_preview_json(std::ostream& out, const json& facts, const state::StateStore& store, const plans::Plan& plan,
                        const std::string& snapshot_run)
{
  // The facts as they are, each step followed by its device ids (and, for a
  // patch, each device's changes) written as they are read from the state
  // file: a million devices never sit in memory as one JSON value.
  json head = facts;
  head.erase("steps");
  std::string text = head.dump();
  text.pop_back();
  out << text << (head.empty() ? "" : ",") << "\"steps\":[";
  const json& steps = facts.at("steps");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    text = steps[i].dump();
    text.pop_back();
    out << (i > 0 ? "," : "") << text;
    const auto& step = plan.steps.at(i);
    if (step.query.empty() || !jobs::make_step_kind(step)->uses_devices()) {
      out << "}";
      continue;
    }
    out << ",\"deviceIds\":[";
    bool first = true;
    visit_step_devices(store, snapshot_run, step, false,
                       [&](const std::string& id, const json*, const std::vector<jobs::FieldChange>&) {
                         out << (first ? "" : ",") << json(id).dump();
                         first = false;
                       });
    out << "]";
    if (step.action == plans::ActionKind::patch) {
      out << ",\"deviceChanges\":[";
      first = true;
      visit_step_devices(
          store, snapshot_run, step, true,
          [&](const std::string& id, const json* document, const std::vector<jobs::FieldChange>& field_changes) {
            json changes = json::array();
            for (const auto& c : field_changes)
              changes.push_back({{"field", c.field}, {"before", c.before}, {"after", c.after}});
            out << (first ? "" : ",")
                << json{{"id", id}, {"name", document->value("name", "")}, {"changes", std::move(changes)}}.dump();
            first = false;
          });
      out << "]";
    }
    out << "}";
  }
  out << "]}\n";
}

json preview_facts(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
                   const PatchTallies* tallies)
{
  json facts = {{"plan", plan.source_path}, {"planName", plan.name}, {"planHash", plan.text_hash}};
  json queries = json::array();
  for (const auto& spec : plan.queries) {
    const auto record = store.query(snapshot_run, spec.name);
    if (!record) continue;
    json entry = {{"name", spec.name}, {"query", json::parse(spec.query_json)}, {"devices", record->total}};
    if (spec.expect_min) entry["expect"]["min"] = *spec.expect_min;
    if (spec.expect_max) entry["expect"]["max"] = *spec.expect_max;
    if (spec.deleted) entry["deleted"] = true;
    queries.push_back(std::move(entry));
  }
  facts["queries"] = std::move(queries);
  json steps = json::array();
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    const auto kind = jobs::make_step_kind(step);
    const json params = json::parse(step.params_json);
    const int batch = step.batch_size.value_or(kind->max_batch_size());
    json entry = {{"index", i + 1}, {"id", step.id}, {"action", std::string(plans::action_name(step.action))}};
    std::int64_t devices = 0;
    if (kind->uses_devices()) {
      entry["query"] = step.query;
      json sample = json::array();
      store.for_each_device(
          snapshot_run, step.query, true,
          [&](const std::string& id, const std::string& document) {
            sample.push_back(json::parse(document).value("name", id));
          },
          5);
      const auto record = store.query(snapshot_run, step.query);
      if (step.action == plans::ActionKind::patch) {
        // patch: field -> (before, after) -> devices, counted during resolution or now.
        PatchTally counted;
        const PatchTally* tally = nullptr;
        if (tallies != nullptr) {
          if (auto found = tallies->find(i); found != tallies->end()) tally = &found->second;
        }
        if (tally == nullptr) {
          visit_step_devices(store, snapshot_run, step, true,
                             [&](const std::string&, const json*, const std::vector<jobs::FieldChange>& field_changes) {
                               counted.add(field_changes);
                             });
          tally = &counted;
        }
        devices = tally->devices;
        json fields = json::array();
        for (const auto& [field, by_value] : tally->changes) {
          json values = json::array();
          for (const auto& [before_after, count] : by_value) {
            values.push_back({{"before", json::parse(before_after.first)},
                              {"after", json::parse(before_after.second)},
                              {"devices", count}});
          }
          fields.push_back({{"field", field}, {"changes", std::move(values)}});
        }
        entry["fieldChanges"] = std::move(fields);
      } else if (record) {
        devices = record->total;
      }
      entry["devices"] = devices;
      entry["sample"] = std::move(sample);
    } else {
      json names = json::array();
      for (const auto& device : params.value("devices", json::array())) names.push_back(device.value("name", ""));
      devices = static_cast<std::int64_t>(names.size());
      entry["devices"] = devices;
      entry["create"] = std::move(names);
    }
    entry["requests"] = requests_for(devices, batch);
    entry["batchSize"] = batch;
    switch (step.action) {
    case plans::ActionKind::remove_data:
      entry["removeData"] = {{"start", time_text(params.value("start", json()), "the beginning")},
                             {"end", time_text(params.value("end", json()), "now")},
                             {"attributes", params.contains("attributes") && params["attributes"].is_array()
                                                ? params["attributes"]
                                                : json("all")},
                             {"irreversible", true}};
      break;
    case plans::ActionKind::send_command:
      entry["command"] = {{"name", params.value("name", "")},
                          {"payload", params.value("payload", json())},
                          {"recipients", devices},
                          {"delivery", std::string(plans::delivery_name(step.delivery))}};
      break;
    case plans::ActionKind::export_devices:
      entry["export"] = {{"format", params.value("format", "csv")},
                         {"email", params.value("email", "")},
                         {"callbackUrl", params.value("callbackUrl", "")}};
      break;
    default: break;
    }
    steps.push_back(std::move(entry));
  }
  facts["steps"] = std::move(steps);
  return facts;
}

std::string render_preview(const json& facts)
{
  std::ostringstream out;
  out << "queries\n";
  for (const auto& q : facts["queries"]) {
    out << "  " << q["name"].get<std::string>() << ": " << with_commas(q["devices"].get<std::int64_t>()) << " devices"
        << (q.value("deleted", false) ? " (deleted)" : "");
    if (q.contains("expect")) {
      out << "  (expect "
          << (q["expect"].contains("min") ? std::to_string(q["expect"]["min"].get<std::int64_t>()) : "0") << ".."
          << (q["expect"].contains("max") ? std::to_string(q["expect"]["max"].get<std::int64_t>()) : "") << ")";
    }
    out << "\n";
  }
  out << "steps\n";
  for (const auto& s : facts["steps"]) {
    const std::int64_t devices = s["devices"].get<std::int64_t>();
    const std::int64_t requests = s["requests"].get<std::int64_t>();
    out << "  " << s["index"].get<int>() << ". " << s["id"].get<std::string>() << ": "
        << s["action"].get<std::string>();
    if (s.contains("query")) out << " " << s["query"].get<std::string>();
    out << ", " << with_commas(devices) << (devices == 1 ? " device" : " devices") << " in " << with_commas(requests)
        << (requests == 1 ? " request" : " requests") << "\n";
    if (s.contains("sample") && !s["sample"].empty()) {
      out << "       e.g. ";
      for (std::size_t i = 0; i < s["sample"].size(); ++i) out << (i ? ", " : "") << s["sample"][i].get<std::string>();
      if (devices > static_cast<std::int64_t>(s["sample"].size()))
        out << " and " << with_commas(devices - static_cast<std::int64_t>(s["sample"].size())) << " more";
      out << "\n";
    }
    if (s.contains("create")) {
      out << "       create: ";
      for (std::size_t i = 0; i < s["create"].size() && i < 10; ++i)
        out << (i ? ", " : "") << s["create"][i].get<std::string>();
      out << "\n";
    }
    if (s.contains("fieldChanges")) {
      for (const auto& field : s["fieldChanges"]) {
        for (const auto& change : field["changes"]) {
          const auto show = [](const json& v) { return v.is_null() ? std::string("(none)") : v.dump(); };
          out << "       " << field["field"].get<std::string>() << ": " << show(change["before"]) << " -> "
              << show(change["after"]) << "  (" << with_commas(change["devices"].get<std::int64_t>()) << " devices)\n";
        }
      }
      if (s["fieldChanges"].empty() && devices > 0) out << "       no field would change\n";
    }
    if (s.contains("removeData")) {
      const auto& r = s["removeData"];
      out << "       data from " << r["start"].get<std::string>() << " to " << r["end"].get<std::string>()
          << ", attributes " << (r["attributes"].is_array() ? r["attributes"].dump() : std::string("all"))
          << " (removed data cannot be restored)\n";
    }
    if (s.contains("command")) {
      out << "       command " << s["command"]["name"].get<std::string>() << " payload "
          << s["command"]["payload"].dump() << " to " << with_commas(devices) << " devices ("
          << s["command"]["delivery"].get<std::string>() << ")\n";
    }
    if (s.contains("export")) {
      out << "       format " << s["export"]["format"].get<std::string>();
      if (!s["export"]["email"].get<std::string>().empty())
        out << ", e-mail " << s["export"]["email"].get<std::string>();
      out << "\n";
    }
  }
  return out.str();
}

void insert_steps(state::StateStore& store, const plans::Plan& plan, const std::string& run_id,
                  const std::string& snapshot_run)
{
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    state::StepRecord record;
    record.run_id = run_id;
    record.index = static_cast<int>(i);
    record.step_id = step.id;
    record.action = std::string(plans::action_name(step.action));
    record.query_name = step.query;
    record.snapshot_run_id = snapshot_run;
    store.insert_step(record);
  }
}

json status_facts(const state::StateStore& store, const state::RunRecord& run)
{
  json facts = {{"run", run.id},
                {"kind", std::string(state::to_string(run.kind))},
                {"status", std::string(state::to_string(run.status))},
                {"plan", run.plan_path},
                {"application", run.application_id},
                {"apiUrl", run.api_url},
                {"created", losant::format_iso8601_ms(run.created_ms)},
                {"updated", losant::format_iso8601_ms(run.updated_ms)},
                {"learnedRate", run.learned_rate}};
  if (!run.preview_run_id.empty()) facts["fromPreview"] = run.preview_run_id;
  facts["summary"] = json::parse(run.summary_json);
  if (const auto holder = store.lock_holder(run.id)) {
    facts["lock"] = {{"pid", holder->pid},
                     {"host", holder->host},
                     {"heartbeat", losant::format_iso8601_ms(holder->heartbeat_ms)},
                     {"alive", state::lock_holder_alive(*holder, losant::now_epoch_ms())}};
  }
  json steps = json::array();
  for (const auto& step : store.steps(run.id)) {
    std::map<std::string, std::int64_t> batches;
    std::map<std::string, std::int64_t> devices;
    json problems = json::array();
    json jobs_in_progress = json::array();
    for (const auto& batch : store.batches(run.id, step.index, false)) {
      // For people: pending = planned or waiting to retry; in flight = sending.
      std::string state_name(state::to_string(batch.status));
      if (batch.status == state::BatchStatus::planned || batch.status == state::BatchStatus::retry_wait)
        state_name = "pending";
      if (batch.status == state::BatchStatus::sending) state_name = "in flight";
      ++batches[state_name];
      devices[state_name] += batch.device_count;
      if (!batch.error.empty() && batch.status != state::BatchStatus::done) {
        problems.push_back({{"batch", batch.batch_index + 1}, {"status", state_name}, {"error", batch.error}});
      }
      if (batch.status == state::BatchStatus::enqueued) {
        jobs_in_progress.push_back({{"batch", batch.batch_index + 1},
                                    {"jobId", batch.job_id},
                                    {"jobStatus", batch.job_status},
                                    {"progress", batch.job_progress}});
      }
    }
    json entry = {{"index", step.index + 1},
                  {"id", step.step_id},
                  {"action", step.action},
                  {"query", step.query_name},
                  {"status", std::string(state::to_string(step.status))},
                  {"devices", step.device_count},
                  {"batchCount", step.batch_count},
                  {"batches", batches},
                  {"devicesByState", devices},
                  {"result", json::parse(step.result_json)}};
    if (!problems.empty()) entry["problems"] = std::move(problems);
    if (!jobs_in_progress.empty()) entry["jobs"] = std::move(jobs_in_progress);
    steps.push_back(std::move(entry));
  }
  facts["steps"] = std::move(steps);
  json events = json::array();
  for (const auto& event : store.events(run.id)) {
    events.push_back(
        {{"at", losant::format_iso8601_ms(event.at_ms)}, {"kind", event.kind}, {"message", event.message}});
  }
  facts["events"] = std::move(events);
  return facts;
}

std::string render_status(const json& facts)
{
  std::ostringstream out;
  out << "run " << facts["run"].get<std::string>() << " (" << facts["kind"].get<std::string>()
      << "): " << facts["status"].get<std::string>() << "\n";
  out << "  plan " << facts["plan"].get<std::string>() << ", application " << facts["application"].get<std::string>()
      << " at " << facts["apiUrl"].get<std::string>() << "\n";
  if (facts.contains("fromPreview"))
    out << "  devices from preview " << facts["fromPreview"].get<std::string>() << "\n";
  if (facts.contains("lock")) {
    out << "  lock held by pid " << facts["lock"]["pid"].get<std::int64_t>() << " on "
        << facts["lock"]["host"].get<std::string>() << (facts["lock"]["alive"].get<bool>() ? " (running)" : " (gone)")
        << "\n";
  }
  for (const auto& step : facts["steps"]) {
    out << "  " << step["index"].get<int>() << ". " << step["id"].get<std::string>() << " "
        << step["action"].get<std::string>() << ": " << step["status"].get<std::string>() << ", "
        << with_commas(step["devices"].get<std::int64_t>()) << " devices";
    if (!step["batches"].empty()) {
      out << "; batches:";
      for (const auto& [name, count] : step["batches"].items()) out << " " << name << " " << count.get<std::int64_t>();
    }
    const auto& totals = step["result"].value("totals", json::object());
    if (!totals.empty()) out << "; " << totals.dump();
    out << "\n";
    for (const auto& job : step.value("jobs", json::array())) {
      out << "       batch " << job["batch"].get<int>() << ": job " << job["jobId"].get<std::string>() << " "
          << job["jobStatus"].get<std::string>() << " " << job["progress"].get<std::string>() << "\n";
    }
    for (const auto& problem : step.value("problems", json::array())) {
      out << "       batch " << problem["batch"].get<int>() << " " << problem["status"].get<std::string>() << ": "
          << problem["error"].get<std::string>() << "\n";
    }
  }
  const auto& summary = facts["summary"];
  if (summary.contains("counters")) out << "  requests: " << summary["counters"].dump() << "\n";
  const auto& events = facts["events"];
  const std::size_t first = events.size() > 8 ? events.size() - 8 : 0;
  if (!events.empty()) out << "  events" << (first > 0 ? " (last 8)" : "") << ":\n";
  for (std::size_t i = first; i < events.size(); ++i) {
    out << "    " << events[i]["at"].get<std::string>() << " " << events[i]["kind"].get<std::string>() << ": "
        << events[i]["message"].get<std::string>() << "\n";
  }
  return out.str();
}

} // namespace fleetrun::runner
