// GET /devices (the query language, sorting, id-cursor pages, rendered documents),
// one device, and its command history.
#include "sandbox/service.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <algorithm>
#include <cmath>

namespace fleetrun::sandbox {

Response Sandbox::Impl::get_devices(const Request& request)
{
  const json params = unflatten_parameters(request.query);
  const auto text_param = [&](const char* key, const std::string& fallback) {
    const auto it = params.find(key);
    return it != params.end() && it->is_string() && !it->get<std::string>().empty() ? it->get<std::string>() : fallback;
  };
  const std::string sort_field = text_param("sortField", "name");
  std::string sort_direction = text_param("sortDirection", "asc");
  std::transform(sort_direction.begin(), sort_direction.end(), sort_direction.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  if (sort_field != "name" && sort_field != "id" && sort_field != "creationDate" && sort_field != "lastUpdated") {
    return validation_error("sortField must be one of name, id, creationDate, lastUpdated");
  }
  if (sort_direction != "asc" && sort_direction != "desc") return validation_error("sortDirection must be asc or desc");
  long page = 0;
  long per_page = 100;
  try {
    page = std::stol(text_param("page", "0"));
    per_page = std::stol(text_param("perPage", "100"));
  } catch (const std::exception&) {
    return validation_error("page and perPage must be whole numbers");
  }
  if (page < 0) return validation_error("page must be 0 or more");
  if (per_page < 1 || per_page > 1000) return validation_error("perPage must be between 1 and 1000");
  const bool query_deleted = text_param("queryDeleted", "false") == "true";
  const bool exclude_connection = text_param("excludeConnectionInfo", "false") == "true";

  std::string cache_key;
  std::optional<IdRange> id_bounds; // an id range over a query: only devices in it
  std::optional<DeviceQuery> query;
  json echoed_query;
  if (auto q = params.find("query"); q != params.end() && q->is_string() && !q->get<std::string>().empty()) {
    echoed_query = json::parse(q->get<std::string>(), nullptr, false);
    if (echoed_query.is_discarded()) return validation_error("query must be JSON text");
    Response error;
    if (!validate("advancedDeviceQuery", echoed_query, error, "query")) return error;
    auto compiled = DeviceQuery::compile(echoed_query);
    if (!compiled) return validation_error("query." + compiled.error());
    query = std::move(*compiled);
    cache_key = "q:" + echoed_query.dump();
    // An id range over a query ({"$and": [q, {"id": {"$gt": id}}, {"id":
    // {"$lt": id}}]} sorted by id) selects a slice of q's selection: select q
    // once and cache it, then binary-search the slice's ends, as an index on
    // id would. The answer is the one matching the whole query would give.
    if (sort_field == "id") {
      if (auto range = id_range(echoed_query)) {
        auto base = DeviceQuery::compile(echoed_query["$and"][0]);
        if (base) {
          query = std::move(*base);
          cache_key = "q:" + echoed_query["$and"][0].dump();
          id_bounds = std::move(*range);
        }
      }
    }
  } else {
    SimpleFilters filters;
    filters.filter_field = text_param("filterField", "");
    filters.filter = text_param("filter", "");
    if (!filters.filter.empty() && !filters.filter_field.empty() && filters.filter_field != "name") {
      return validation_error("filterField must be name");
    }
    if (auto dc = params.find("deviceClass"); dc != params.end()) {
      if (dc->is_string()) filters.device_classes.push_back(dc->get<std::string>());
      if (dc->is_array())
        for (const auto& c : *dc) filters.device_classes.push_back(c.get<std::string>());
      Response error;
      if (!validate("deviceClassFilter", *dc, error, "deviceClass")) return error;
    }
    if (auto tf = params.find("tagFilter"); tf != params.end()) {
      Response error;
      if (!validate("deviceTagFilter", *tf, error, "tagFilter")) return error;
      for (const auto& pair : *tf) filters.tag_filter.emplace_back(pair.value("key", ""), pair.value("value", ""));
    }
    if (auto parent = params.find("parentId"); parent != params.end() && parent->is_string()) {
      if (!losant::is_object_id(parent->get<std::string>()))
        return validation_error("parentId must be a 24-character hexadecimal id");
      filters.parent_id = parent->get<std::string>();
    }
    query = DeviceQuery::from_filters(filters);
    // Only what selects devices belongs in the key: not page, perPage or the envelope flags.
    json selecting = json::object();
    for (const char* key : {"filterField", "filter", "deviceClass", "tagFilter", "parentId"}) {
      if (params.contains(key)) selecting[key] = params[key];
    }
    cache_key = "f:" + selecting.dump();
  }
  cache_key += "|" + sort_field + "|" + sort_direction + "|" + (query_deleted ? "deleted" : "live");

  std::shared_lock lock(store_mutex);
  const auto indices = selection(cache_key, *query, query_deleted ? DeletedScope::deleted : DeletedScope::live,
                                 sort_field, sort_direction == "desc");
  const auto& devices = store.devices();
  // The slice [first, last) of `indices` the query selects; sorted by id
  // descending, `indices` runs from the highest id down.
  std::size_t first = 0;
  std::size_t last = indices->size();
  if (id_bounds) {
    const bool descending = sort_direction == "desc";
    // How many of `indices` come before the first id that is past `bound`
    // (in the selection's order): ids below it (ascending) or above it (descending).
    const auto position = [&](const std::string& bound, bool bound_included_before) {
      if (!descending) {
        return static_cast<std::size_t>(
            (bound_included_before
                 ? std::upper_bound(indices->begin(), indices->end(), bound,
                                    [&](const std::string& id, std::uint32_t index) { return id < devices[index].id; })
                 : std::lower_bound(
                       indices->begin(), indices->end(), bound,
                       [&](std::uint32_t index, const std::string& id) { return devices[index].id < id; })) -
            indices->begin());
      }
      return static_cast<std::size_t>(
          (bound_included_before
               ? std::upper_bound(indices->begin(), indices->end(), bound,
                                  [&](const std::string& id, std::uint32_t index) { return id > devices[index].id; })
               : std::lower_bound(indices->begin(), indices->end(), bound,
                                  [&](std::uint32_t index, const std::string& id) { return devices[index].id > id; })) -
          indices->begin());
    };
    const auto& low = id_bounds->low;
    const auto& high = id_bounds->high;
    if (!descending) {
      if (low) first = position(*low, !id_bounds->low_inclusive);
      if (high) last = position(*high, id_bounds->high_inclusive);
    } else {
      if (high) first = position(*high, !id_bounds->high_inclusive);
      if (low) last = position(*low, id_bounds->low_inclusive);
    }
    last = std::max(first, last);
  }
  const std::size_t total = last - first;
  const std::size_t begin = first + static_cast<std::size_t>(page) * static_cast<std::size_t>(per_page);
  const std::size_t end = std::min(last, begin + static_cast<std::size_t>(per_page));
  json envelope = {{"totalCount", total},
                   {"perPage", per_page},
                   {"page", page},
                   {"sortField", sort_field},
                   {"sortDirection", sort_direction},
                   {"applicationId", config.application_id},
                   {"count", end > begin ? end - begin : 0}};
  if (!echoed_query.is_null()) envelope["query"] = echoed_query;
  // The envelope's members, then the items: each device's document is
  // rendered once per store generation and reused by later pages.
  Response response;
  response.body = envelope.dump();
  response.body.reserve(response.body.size() + (end > begin ? end - begin : 0) * 1024);
  response.body.pop_back();
  response.body += ",\"items\":[";
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) response.body += ',';
    append_rendered(response.body, (*indices)[i], !exclude_connection);
  }
  response.body += "]}";
  return response;
}

void Sandbox::Impl::append_rendered(std::string& out, std::uint32_t index, bool with_connection)
{
  auto& cache = rendered_cache[with_connection ? 1 : 0];
  std::lock_guard lock(rendered_mutex);
  if (cache.generation != store.generation() || cache.texts.size() != store.size()) {
    cache.texts.assign(store.size(), std::string());
    cache.generation = store.generation();
  }
  std::string& text = cache.texts[index];
  if (text.empty()) {
    text.reserve(1024);
    append_api_json(text, store.devices()[index], config.application_id, with_connection);
    text.shrink_to_fit();
  }
  out += text;
}

std::optional<Sandbox::Impl::IdRange> Sandbox::Impl::id_range(const json& query)
{
  if (!query.is_object() || query.size() != 1 || !query.contains("$and")) return std::nullopt;
  const json& terms = query["$and"];
  if (!terms.is_array() || terms.size() < 2 || terms.size() > 3) return std::nullopt;
  IdRange range;
  for (std::size_t i = 1; i < terms.size(); ++i) {
    const json& term = terms[i];
    if (!term.is_object() || term.size() != 1) return std::nullopt;
    const auto id = term.find("id");
    if (id == term.end() || !id->is_object() || id->size() != 1) return std::nullopt;
    const std::string op = id->begin().key();
    const json& value = id->begin().value();
    // Ids are lowercase hex; then "greater than" is plain text order.
    if (!value.is_string() || !losant::is_object_id(value.get<std::string>())) return std::nullopt;
    const std::string text = value.get<std::string>();
    if (std::any_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'F'; })) return std::nullopt;
    if ((op == "$gt" || op == "$gte") && !range.low) {
      range.low = text;
      range.low_inclusive = op == "$gte";
    } else if ((op == "$lt" || op == "$lte") && !range.high) {
      range.high = text;
      range.high_inclusive = op == "$lte";
    } else {
      return std::nullopt;
    }
  }
  return range;
}

std::shared_ptr<const std::vector<std::uint32_t>> Sandbox::Impl::selection(const std::string& key,
                                                                           const DeviceQuery& query, DeletedScope scope,
                                                                           const std::string& sort_field,
                                                                           bool descending)
{
  const std::uint64_t generation = store.generation();
  {
    std::lock_guard lock(cache_mutex);
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->key == key && it->generation == generation) {
        count_total("queryCacheHits");
        cache.splice(cache.begin(), cache, it);
        return cache.front().indices;
      }
    }
  }
  count_total("queryCacheMisses");
  auto indices = store.select(query, scope);
  const auto& devices = store.devices();
  // Ties break on id, so paging through a fixed set is stable.
  const auto by = [&](auto key_of) {
    std::stable_sort(indices.begin(), indices.end(), [&](std::uint32_t a, std::uint32_t b) {
      const auto& ka = key_of(devices[a]);
      const auto& kb = key_of(devices[b]);
      if (ka == kb) return descending ? devices[a].id > devices[b].id : devices[a].id < devices[b].id;
      return descending ? kb < ka : ka < kb;
    });
  };
  if (sort_field == "name") {
    // Sort (name, index) pairs side by side rather than chasing each
    // device: a million names sort several times faster this way.
    std::vector<std::pair<std::string_view, std::uint32_t>> keyed;
    keyed.reserve(indices.size());
    for (const auto index : indices) keyed.emplace_back(devices[index].name, index);
    std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (a.first == b.first) {
        return descending ? devices[a.second].id > devices[b.second].id : devices[a.second].id < devices[b.second].id;
      }
      return descending ? b.first < a.first : a.first < b.first;
    });
    for (std::size_t i = 0; i < keyed.size(); ++i) indices[i] = keyed[i].second;
  } else if (sort_field == "creationDate") {
    by([](const Device& d) { return d.creation_ms; });
  } else if (sort_field == "lastUpdated") {
    by([](const Device& d) { return d.last_updated_ms; });
  } else if (descending) {
    std::reverse(indices.begin(), indices.end());
  }
  auto shared = std::make_shared<const std::vector<std::uint32_t>>(std::move(indices));
  std::lock_guard lock(cache_mutex);
  cache.push_front({key, generation, shared});
  if (cache.size() > 8) cache.pop_back();
  return shared;
}

Response Sandbox::Impl::create_device(const Request& request)
{
  Response error;
  auto body = parse_body(request, error);
  if (!body) return error;
  if (!validate("devicePost", *body, error)) return error;
  std::unique_lock lock(store_mutex);
  Device device;
  apply_device_fields(device, *body);
  device.creation_ms = device.last_updated_ms = losant::now_epoch_ms();
  const Device& added = store.add(std::move(device));
  return json_response(201, to_api_json(added, config.application_id));
}

Response Sandbox::Impl::get_device(const std::string& id)
{
  std::shared_lock lock(store_mutex);
  const Device* device = live_device(id);
  if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
  return json_response(200, to_api_json(*device, config.application_id));
}

const Device* Sandbox::Impl::live_device(const std::string& id) const
{
  if (!losant::is_object_id(id)) return nullptr;
  const Device* device = store.find(id);
  return device == nullptr || device->deleted_at_ms ? nullptr : device;
}

Device* Sandbox::Impl::live_device(const std::string& id)
{
  if (!losant::is_object_id(id)) return nullptr;
  Device* device = store.find(id);
  return device == nullptr || device->deleted_at_ms ? nullptr : device;
}

Response Sandbox::Impl::patch_device(const std::string& id, const Request& request)
{
  Response error;
  auto body = parse_body(request, error);
  if (!body) return error;
  if (!validate("devicePatch", *body, error)) return error;
  std::unique_lock lock(store_mutex);
  Device* device = live_device(id);
  if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
  apply_patch(*device, json{{"updateFields", *body}}, losant::now_epoch_ms());
  store.touch();
  return json_response(200, to_api_json(*device, config.application_id));
}

Response Sandbox::Impl::delete_device(const std::string& id)
{
  std::unique_lock lock(store_mutex);
  Device* device = live_device(id);
  if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
  apply_delete(*device, losant::now_epoch_ms());
  store.touch();
  return json_response(200, json{{"success", true}});
}

Response Sandbox::Impl::get_commands(const std::string& id, const Request& request)
{
  const json params = unflatten_parameters(request.query);
  const auto number = [&](const char* key, std::int64_t fallback) -> std::int64_t {
    const auto it = params.find(key);
    if (it == params.end() || !it->is_string() || it->get<std::string>().empty()) return fallback;
    return std::stoll(it->get<std::string>());
  };
  std::int64_t limit = 1, start = 0, end = 0;
  try {
    limit = number("limit", 1);
    start = number("start", 0);
    end = number("end", 0);
  } catch (const std::exception&) {
    return validation_error("limit, start and end must be whole numbers");
  }
  const std::int64_t now = losant::now_epoch_ms();
  if (end <= 0) end = now + end;
  if (start < 0) start = now + start;
  const bool ascending = params.value("sortDirection", "desc") == "asc";
  std::shared_lock lock(store_mutex);
  const Device* device = live_device(id);
  if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
  std::vector<const Command*> found;
  for (const auto& command : device->commands) {
    if (command.time_ms >= start && command.time_ms <= end) found.push_back(&command);
  }
  std::stable_sort(found.begin(), found.end(), [&](const Command* a, const Command* b) {
    return ascending ? a->time_ms < b->time_ms : a->time_ms > b->time_ms;
  });
  json out = json::array();
  for (std::size_t i = 0; i < found.size() && static_cast<std::int64_t>(i) < limit; ++i) {
    json entry = {{"name", found[i]->name}, {"time", losant::format_iso8601_ms(found[i]->time_ms)}};
    if (!found[i]->payload_json.empty()) entry["payload"] = json::parse(found[i]->payload_json);
    out.push_back(std::move(entry));
  }
  return json_response(200, out);
}

Response Sandbox::Impl::post_command(const std::string& id, const Request& request)
{
  Response error;
  auto body = parse_body(request, error);
  if (!body) return error;
  if (!validate("deviceCommand", *body, error)) return error;
  std::unique_lock lock(store_mutex);
  Device* device = live_device(id);
  if (device == nullptr) return error_response(404, "NotFound", "Device was not found");
  device->commands.push_back(make_command(*body));
  return json_response(200, json{{"success", true}});
}

Command Sandbox::Impl::make_command(const json& body)
{
  Command command;
  command.name = body.at("name").get<std::string>();
  command.time_ms = losant::now_epoch_ms();
  if (auto time = body.find("time"); time != body.end())
    command.time_ms = command_time_ms(*time).value_or(command.time_ms);
  if (auto payload = body.find("payload"); payload != body.end()) command.payload_json = payload->dump();
  return command;
}

} // namespace fleetrun::sandbox
