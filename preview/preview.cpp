#include "preview/preview.hpp"

#include "preview/plan_simulation.hpp"
#include "text/text_format.hpp"

#include "api/json_read.hpp"
#include "jobs/step_kind.hpp"
#include "losant/time_format.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

namespace fleetrun::preview {

using nlohmann::json;

namespace {

std::int64_t requests_for(std::int64_t devices, int batch)
{
  return devices == 0 ? 0 : (devices + batch - 1) / batch;
}

// A step's tallies for people: top-level fields, then tags, then attributes
// (the order a device's changes apply in), each field's values together, in
// the order first seen.
std::vector<ChangeTally> grouped(const std::vector<ChangeTally>& tallies)
{
  const auto category = [](const std::string& field) {
    if (field == "tags" || field.starts_with("tags.")) return 1;
    if (field == "attributes" || field.starts_with("attributes.")) return 2;
    return 0;
  };
  std::map<std::string, std::size_t> first_seen;
  for (std::size_t i = 0; i < tallies.size(); ++i) first_seen.try_emplace(tallies[i].field, i);
  std::vector<std::size_t> order(tallies.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto key = [&](std::size_t i) {
      return std::make_pair(category(tallies[i].field), first_seen.at(tallies[i].field));
    };
    return key(a) < key(b);
  });
  std::vector<ChangeTally> out;
  for (const auto i : order) out.push_back(tallies[i]);
  return out;
}

json time_text(const json& value, const char* fallback)
{
  if (!value.is_number()) return fallback;
  const auto ms = value.get<std::int64_t>();
  if (ms == 0) return "now";
  if (ms < 0) return std::to_string(-ms / 1000) + " s before now";
  return losant::format_iso8601_ms(ms);
}

} // namespace
void write_preview_json(std::ostream& out, const json& facts, const state::StateStore& store, const plans::Plan& plan,
                        const std::string& snapshot_run)
{
  // The facts as they are, each step followed by its device ids (and, for a
  // patch, each device's changes as the simulation predicts them) written as
  // they are read from the state file: a million devices never sit in memory
  // as one JSON value.
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
    store.for_each_device_excluding(snapshot_run, step.query, plans::deleted_before(plan, i),
                                    [&](const std::string& id) {
                                      out << (first ? "" : ",") << json(id).dump();
                                      first = false;
                                    });
    out << "]";
    if (step.action == plans::ActionKind::patch) {
      out << ",\"deviceChanges\":[";
      first = true;
      simulate_plan(
          store, plan, snapshot_run,
          [&](const DevicePrediction& device) {
            if (device.step != i) return;
            json changes = json::array();
            for (const auto& c : device.simulated.changes) {
              changes.push_back(
                  {{"field", c.field}, {"op", jobs::to_string(c.op)}, {"before", c.before}, {"after", c.after}});
            }
            json entry = {{"id", device.id},
                          {"name", api::string_member(device.before, "name")},
                          {"result", jobs::to_string(device.simulated.result)},
                          {"changes", std::move(changes)}};
            if (!device.simulated.failure.empty()) entry["failure"] = device.simulated.failure;
            if (!device.simulated.uncertain.empty()) entry["uncertain"] = device.simulated.uncertain;
            out << (first ? "" : ",") << entry.dump();
            first = false;
          },
          i);
      out << "]";
    }
    out << "}";
  }
  out << "]}\n";
}

bool would_do_anything(const json& facts)
{
  for (const auto& step : facts["steps"]) {
    if (step.contains("patch")) {
      if (step["patch"]["updated"].get<std::int64_t>() + step["patch"]["failed"].get<std::int64_t>() > 0) return true;
    } else if (step["devices"].get<std::int64_t>() > 0) {
      return true;
    }
  }
  return false;
}

json preview_facts(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run)
{
  const std::vector<StepPrediction> predictions = simulate_plan(store, plan, snapshot_run);
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
    const json& params = step.params();
    const int batch = step.batch_size.value_or(kind->max_batch_size());
    json entry = {{"index", i + 1}, {"id", step.id}, {"action", std::string(plans::action_name(step.action))}};
    std::int64_t devices = 0;
    if (kind->uses_devices()) {
      entry["query"] = step.query;
      json sample = json::array();
      store.for_each_device(
          snapshot_run, step.query, true,
          [&](const std::string& id, const std::string& document) {
            sample.push_back(api::string_member(json::parse(document, nullptr, false), "name", id));
          },
          5);
      const StepPrediction& prediction = predictions[i];
      devices = prediction.devices;
      if (prediction.deleted_before > 0) entry["deletedByEarlierSteps"] = prediction.deleted_before;
      if (store.query(snapshot_run, step.query).value_or(state::QueryRecord{}).total == 0) entry["noDevices"] = true;
      if (step.action == plans::ActionKind::patch) {
        // patch: each change entry and its devices, in the order they apply, as the simulation predicts.
        json fields = json::array();
        for (const auto& tally : grouped(prediction.changes)) {
          fields.push_back({{"field", tally.field},
                            {"op", jobs::to_string(tally.op)},
                            {"before", json::parse(tally.before)},
                            {"after", json::parse(tally.after)},
                            {"devices", tally.devices}});
        }
        entry["fieldChanges"] = std::move(fields);
        entry["patch"] = {{"updated", prediction.updated},
                          {"skipped", prediction.skipped},
                          {"failed", prediction.failed},
                          {"uncertain", prediction.uncertain}};
        if (prediction.uncertain > 0) entry["uncertainExample"] = prediction.uncertain_example;
        if (prediction.failed > 0) entry["failedExample"] = prediction.failed_example;
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

namespace {

// One entry of a step's change list, as people read it.
std::string change_line(const json& change)
{
  const auto show = [](const json& v) { return v.is_null() ? std::string("(none)") : v.dump(); };
  const std::string field = change["field"].get<std::string>();
  const std::string op = change["op"].get<std::string>();
  std::string line;
  if (op == "rename") {
    line = field + ": renamed to " + change["after"].get<std::string>() + ", in place";
  } else if (op == "replace") {
    line = field + ": the whole list " + show(change["before"]) + " -> " + show(change["after"]);
  } else {
    line = field + ": " + show(change["before"]) + " -> " + show(change["after"]);
    if (op == "add" && (field.starts_with("tags.") || std::count(field.begin(), field.end(), '.') == 1))
      line += ", added at the end";
  }
  return line + "  (" + text::with_commas(change["devices"].get<std::int64_t>()) + " devices)";
}

bool destructive(const std::string& action)
{
  return action == "delete" || action == "remove_data";
}

std::string share_of_fleet(const json& facts, std::int64_t devices)
{
  if (!facts.contains("fleetDevices")) return "";
  const auto fleet = facts["fleetDevices"].get<std::int64_t>();
  if (fleet <= 0) return "";
  char share[32];
  std::snprintf(share, sizeof share, "%.1f", 100.0 * static_cast<double>(devices) / static_cast<double>(fleet));
  return std::string(" (") + share + " % of " + text::with_commas(fleet) + ")";
}

} // namespace

std::string preview_totals(const json& facts)
{
  std::map<std::string, std::int64_t> by_action;
  std::int64_t updated = 0;
  std::int64_t unchanged = 0;
  std::int64_t requests = 0;
  for (const auto& s : facts["steps"]) {
    by_action[s["action"].get<std::string>()] += s["devices"].get<std::int64_t>();
    requests += s["requests"].get<std::int64_t>();
    if (s.contains("patch")) {
      updated += s["patch"]["updated"].get<std::int64_t>();
      unchanged += s["patch"]["skipped"].get<std::int64_t>() + s["patch"]["failed"].get<std::int64_t>();
    }
  }
  std::vector<std::string> parts;
  const auto count = [&](const char* action) { return by_action.contains(action) ? by_action[action] : -1; };
  if (const auto n = count("delete"); n >= 0)
    parts.push_back(text::with_commas(n) + " devices deleted" + share_of_fleet(facts, n));
  if (const auto n = count("remove_data"); n >= 0)
    parts.push_back("data removed from " + text::with_commas(n) + " devices" + share_of_fleet(facts, n));
  if (const auto n = count("send_command"); n >= 0)
    parts.push_back(text::with_commas(n) + (n == 1 ? " command" : " commands") + share_of_fleet(facts, n));
  if (const auto n = count("patch"); n >= 0)
    parts.push_back(text::with_commas(updated) + " devices changed by patches" +
                    (unchanged > 0 ? " (" + text::with_commas(unchanged) + " more unchanged)" : std::string()));
  if (const auto n = count("restore"); n >= 0) parts.push_back(text::with_commas(n) + " devices restored");
  if (const auto n = count("create"); n >= 0) parts.push_back(text::with_commas(n) + " devices created");
  if (const auto n = count("export"); n >= 0) parts.push_back(text::with_commas(n) + " devices exported");
  std::string line = "Plan: ";
  for (std::size_t i = 0; i < parts.size(); ++i) line += (i ? ", " : "") + parts[i];
  if (parts.empty()) line += "nothing to do";
  return line + "; " + text::with_commas(requests) + (requests == 1 ? " request" : " requests");
}

std::string confirmation_phrase(const json& facts)
{
  std::int64_t touched = 0;
  for (const auto& s : facts["steps"]) {
    const std::string action = s["action"];
    if (destructive(action) || action == "send_command") touched += s["devices"].get<std::int64_t>();
  }
  std::int64_t threshold = 1000;
  if (facts.contains("fleetDevices"))
    threshold = std::min<std::int64_t>(threshold, facts["fleetDevices"].get<std::int64_t>() / 10);
  return touched > threshold ? std::to_string(touched) : "yes";
}

std::string render_preview(const json& facts)
{
  std::ostringstream out;
  out << "queries\n";
  for (const auto& q : facts["queries"]) {
    out << "  " << q["name"].get<std::string>() << ": " << text::with_commas(q["devices"].get<std::int64_t>())
        << " devices" << (q.value("deleted", false) ? " (deleted)" : "");
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
    out << ", " << text::with_commas(devices) << (devices == 1 ? " device" : " devices");
    if (s.contains("query")) out << share_of_fleet(facts, devices);
    out << " in " << text::with_commas(requests) << (requests == 1 ? " request" : " requests")
        << (destructive(s["action"].get<std::string>()) ? "  [destructive]" : "") << "\n";
    if (s.value("noDevices", false)) {
      out << "       matches no device: nothing to do (a typo in the query? `expect: {min: 1}` makes this an error)\n";
    }
    if (s.contains("deletedByEarlierSteps")) {
      out << "       " << text::with_commas(s["deletedByEarlierSteps"].get<std::int64_t>())
          << " more of its devices are deleted by an earlier step: left out\n";
    }
    if (s.contains("patch") && s["patch"]["failed"].get<std::int64_t>() > 0) {
      out << "       " << text::with_commas(s["patch"]["failed"].get<std::int64_t>()) << " devices would fail (e.g. "
          << s.value("failedExample", std::string()) << "): the API changes nothing on "
          << "them\n";
      if (&s != &facts["steps"].back())
        out << "       after a step with failures the later steps start only with --keep-going\n";
    }
    if (s.contains("sample") && !s["sample"].empty()) {
      out << "       e.g. ";
      for (std::size_t i = 0; i < s["sample"].size(); ++i) out << (i ? ", " : "") << s["sample"][i].get<std::string>();
      if (devices > static_cast<std::int64_t>(s["sample"].size()))
        out << " and " << text::with_commas(devices - static_cast<std::int64_t>(s["sample"].size())) << " more";
      out << "\n";
    }
    if (s.contains("create")) {
      out << "       create: ";
      for (std::size_t i = 0; i < s["create"].size() && i < 10; ++i)
        out << (i ? ", " : "") << s["create"][i].get<std::string>();
      out << "\n";
    }
    if (s.contains("fieldChanges")) {
      for (const auto& change : s["fieldChanges"]) out << "       " << change_line(change) << "\n";
      if (s["fieldChanges"].empty() && devices > 0) out << "       no field would change\n";
    }
    if (s.contains("patch") && s["patch"].value("uncertain", std::int64_t{0}) > 0) {
      out << "       " << text::with_commas(s["patch"]["uncertain"].get<std::int64_t>())
          << " devices uncertain: they hold a tag key more than once that this step sets or removes, and Losant "
             "does not document which tags change (previewed: the first one is set, all are removed; e.g. "
          << s["uncertainExample"].get<std::string>() << "); `on_uncertain: abort` refuses such a run\n";
    }
    if (s.contains("removeData")) {
      const auto& r = s["removeData"];
      out << "       data from " << r["start"].get<std::string>() << " to " << r["end"].get<std::string>()
          << ", attributes " << (r["attributes"].is_array() ? r["attributes"].dump() : std::string("all"))
          << " (removed data cannot be restored)\n";
    }
    if (s.contains("command")) {
      out << "       command " << s["command"]["name"].get<std::string>() << " payload "
          << s["command"]["payload"].dump() << " to " << text::with_commas(devices) << " devices ("
          << s["command"]["delivery"].get<std::string>() << ")\n";
    }
    if (s.contains("export")) {
      out << "       format " << s["export"]["format"].get<std::string>();
      if (!s["export"]["email"].get<std::string>().empty())
        out << ", e-mail " << s["export"]["email"].get<std::string>();
      out << "\n";
    }
  }
  out << preview_totals(facts) << "\n";
  return out.str();
}

} // namespace fleetrun::preview
