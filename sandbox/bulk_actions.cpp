// The bulk actions: patch, delete, restore, removeData, command and export,
// answered at once (200) or as a background job (202).
#include "sandbox/service.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <algorithm>
#include <cmath>

namespace fleetrun::sandbox {

Response Sandbox::Impl::bulk(const Request& request, const std::string& action, const RuntimeConfig& rc)
{
  Response error;
  auto parsed = parse_body(request, error);
  if (!parsed) return error;
  json body = std::move(*parsed);
  static const std::map<std::string, std::string> k_schemas = {{"patch", "devicesPatch"},
                                                               {"delete", "devicesDeleteOrRestorePost"},
                                                               {"restore", "devicesDeleteOrRestorePost"},
                                                               {"removeData", "devicesRemoveDataPost"},
                                                               {"command", "multiDeviceCommand"},
                                                               {"export", "devicesExportPost"}};
  if (!validate(k_schemas.at(action), body, error)) return error;
  if (action == "export") {
    // The email and callback may also come as query parameters.
    for (const auto& [key, value] : request.query) {
      if ((key == "email" || key == "callbackUrl") && !body.contains(key)) body[key] = value;
    }
  }

  // Which devices: ids, tags or a query, as each action allows.
  std::vector<std::string> targets;
  std::size_t unknown_ids = 0;
  std::unique_lock lock(store_mutex);
  const DeletedScope scope = action == "restore" ? DeletedScope::deleted : DeletedScope::live;
  if (action == "patch" && !body.contains("updateFields") && !body.contains("updateOperations")) {
    return validation_error("updateFields or updateOperations is required");
  }
  const bool has_ids = body.contains("deviceIds");
  const bool has_tags = action == "command" && body.contains("deviceTags");
  const char* query_key = action == "command" ? "deviceQuery" : "query";
  const bool has_query = body.contains(query_key);
  if ((action == "patch" || action == "command") && !has_ids && !has_query && !has_tags) {
    return validation_error(action == "patch" ? "deviceIds or query is required"
                                              : "deviceIds, deviceTags or deviceQuery is required");
  }
  std::set<std::string> chosen;
  if (has_ids) {
    for (const auto& id : body["deviceIds"]) {
      const Device* device = live_device(id.get<std::string>());
      if (device == nullptr)
        ++unknown_ids;
      else
        chosen.insert(device->id);
    }
  }
  if (has_tags) {
    SimpleFilters filters;
    for (const auto& pair : body["deviceTags"])
      filters.tag_filter.emplace_back(pair.value("key", ""), pair.value("value", ""));
    for (auto index : store.select(DeviceQuery::from_filters(filters), DeletedScope::live))
      chosen.insert(store.devices()[index].id);
  }
  if (has_query || action == "export") {
    auto compiled = has_query ? DeviceQuery::compile(body[query_key]) : DeviceQuery::match_all();
    if (!compiled) return validation_error(std::string(query_key) + "." + compiled.error());
    for (auto index : store.select(*compiled, scope)) chosen.insert(store.devices()[index].id);
  }
  targets.assign(chosen.begin(), chosen.end());

  BulkPlan plan = plan_for(action, body);
  const bool force_job = body.value("forceJob", false);
  if (force_job || targets.size() > rc.job_threshold) {
    const std::string job_id = enqueue(plan, std::move(targets), body, rc);
    return json_response(202, json{{"jobQueued", true}, {"jobId", job_id}, {"success", true}});
  }
  std::map<std::string, std::size_t> counts;
  for (const auto& counter : plan.counters) counts[counter] = 0;
  if (action == "patch") counts["failed"] += unknown_ids;
  for (const auto& id : targets) ++counts[plan.apply(*store.find(id))];
  store.touch();
  return json_response(200, plan.sync_body(counts));
}

Sandbox::Impl::BulkPlan Sandbox::Impl::plan_for(const std::string& action, const json& body)
{
  BulkPlan plan;
  const std::int64_t now = losant::now_epoch_ms();
  const auto counts_body = [](const std::map<std::string, std::size_t>& counts) {
    json out = json::object();
    for (const auto& [key, value] : counts) out[key] = value;
    return out;
  };
  plan.sync_body = counts_body;
  if (action == "patch") {
    plan.job_name = "Device Bulk Update";
    plan.counters = {"updated", "failed", "skipped"};
    plan.apply = [body, now](Device& d) {
      switch (apply_patch(d, body, now)) {
      case PatchOutcome::updated: return std::string("updated");
      case PatchOutcome::skipped: return std::string("skipped");
      case PatchOutcome::failed: break;
      }
      return std::string("failed");
    };
  } else if (action == "delete") {
    plan.job_name = "Device Bulk Delete";
    plan.counters = {"removed", "failed"};
    plan.apply = [now](Device& d) { return apply_delete(d, now) ? std::string("removed") : std::string("failed"); };
  } else if (action == "restore") {
    plan.job_name = "Device Bulk Restore";
    plan.counters = {"restored", "failed"};
    plan.apply = [](Device& d) { return apply_restore(d) ? std::string("restored") : std::string("failed"); };
  } else if (action == "removeData") {
    plan.job_name = "Device Data Removal";
    plan.counters = {"completed", "notApplicable"};
    const RemoveDataSpec spec = remove_data_spec(body, now);
    plan.apply = [spec](Device& d) {
      return apply_remove_data(d, spec) ? std::string("completed") : std::string("notApplicable");
    };
  } else if (action == "command") {
    plan.job_name = "Device Bulk Command";
    plan.counters = {"sent"};
    const Command command = make_command(body);
    plan.apply = [command](Device& d) {
      d.commands.push_back(command);
      return std::string("sent");
    };
    plan.sync_body = [](const std::map<std::string, std::size_t>&) { return json{{"success", true}}; };
  } else if (action == "export") {
    plan.job_name = "Device Metadata Export";
    plan.counters = {"exported"};
    const std::string format = body.value("format", "csv");
    auto collected = std::make_shared<std::vector<json>>();
    plan.apply = [this, collected](Device& d) {
      collected->push_back(to_api_json(d, config.application_id));
      return std::string("exported");
    };
    plan.finish = [this, collected, format](JobLog& log) {
      log.output["downloadUrls"] = json::array({store_export(*collected, format)});
    };
    plan.sync_body = [this, collected, format](const std::map<std::string, std::size_t>&) {
      store_export(*collected, format);
      return json{{"success", true}};
    };
  }
  return plan;
}

std::string Sandbox::Impl::store_export(const std::vector<json>& devices, const std::string& format)
{
  std::string text;
  if (format == "json") {
    text = json(devices).dump();
  } else {
    text = "id,name,deviceClass,tags\n";
    for (const auto& d : devices) {
      std::string tags;
      for (const auto& t : d["tags"])
        tags += (tags.empty() ? "" : ";") + t["key"].get<std::string>() + "=" + t["value"].get<std::string>();
      text += d["id"].get<std::string>() + ",\"" + d["name"].get<std::string>() + "\"," +
              d["deviceClass"].get<std::string>() + ",\"" + tags + "\"\n";
    }
  }
  const std::string id = "export-" + std::to_string(exports.size() + export_order.size() + 1) + "." + format;
  exports[id] = std::move(text);
  export_order.push_back(id);
  if (export_order.size() > 16) {
    exports.erase(export_order.front());
    export_order.pop_front();
  }
  return base_url + "/_sandbox/exports/" + id;
}

} // namespace fleetrun::sandbox
