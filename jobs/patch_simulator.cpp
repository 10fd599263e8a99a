#include "jobs/patch_simulator.hpp"

#include <algorithm>
#include <map>

namespace fleetrun::jobs {

using nlohmann::json;

namespace {

// Fields a bookkeeping clock changes: never part of a prediction.
bool bookkeeping(const std::string& field)
{
  return field == "lastUpdated" || field == "updatedAt" || field == "_links" || field == "_embedded";
}

std::string text(const json& object, const char* key)
{
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json member(const json& object, const std::string& key)
{
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? json(nullptr) : *it;
}

json& list(json& device, const char* key)
{
  json& value = device[key];
  if (!value.is_array()) value = json::array();
  return value;
}

json* find_attribute(json& device, const std::string& name)
{
  json& attributes = list(device, "attributes");
  for (auto& attribute : attributes) {
    if (text(attribute, "name") == name) return &attribute;
  }
  return nullptr;
}

// A failure of one operation: the whole device is left as it was.
struct Failure {
  std::string why;
};

// What the operations did to the identity of the device's attributes, and
// whether any result rests on an undocumented reading.
struct Tracker {
  // Each attribute the device had before the patch and still has: its name now, its name before.
  std::vector<std::pair<std::string, std::string>> origins;
  std::vector<std::string> removed; // names before the patch
  std::string uncertain;

  void note_repeated_key(const json& device, const std::string& key, const char* operation)
  {
    if (!uncertain.empty() || !device.is_object() || !device.contains("tags") || !device["tags"].is_array()) return;
    int held = 0;
    for (const auto& tag : device["tags"]) held += text(tag, "key") == key ? 1 : 0;
    if (held > 1) {
      uncertain = std::string(operation) + " tag " + key + " on a device holding that key " + std::to_string(held) +
                  " times: Losant does not document which of them change";
    }
  }
};

void set_tag(json& device, const std::string& key, const json& value)
{
  json& tags = list(device, "tags");
  for (auto& tag : tags) {
    if (text(tag, "key") == key) {
      tag = {{"key", key}, {"value", value}};
      return; // the first tag of that key only, as a positional update does
    }
  }
  tags.push_back({{"key", key}, {"value", value}});
}

void remove_tag(json& device, const std::string& key)
{
  json& tags = list(device, "tags");
  json kept = json::array();
  for (auto& tag : tags) {
    if (text(tag, "key") != key) kept.push_back(std::move(tag));
  }
  tags = std::move(kept);
}

void apply_operation(json& device, const json& op, Tracker& tracker)
{
  const std::string operation = text(op, "operation");
  const std::string target = text(op, "target");
  const std::string attribute_name = text(op, "attributeName");
  const json value = op.is_object() && op.contains("value") ? op["value"] : json();
  if (operation == "set") {
    if (target == "tag") {
      tracker.note_repeated_key(device, text(value, "key"), "set");
      set_tag(device, text(value, "key"), member(value, "value"));
    } else if (target.starts_with("attribute")) {
      json* attribute = find_attribute(device, attribute_name);
      // A set on an attribute the device lacks fails the device, as a rename
      // repeated on resume does (RESUME.md: "later copies fail harmlessly").
      if (attribute == nullptr) {
        throw Failure{"it has no attribute " + attribute_name +
                      (target == "attributeName" ? " to rename" : " to set " + target + " on")};
      }
      if (target == "attributeTag") {
        json& tags = (*attribute)["attributeTags"];
        if (!tags.is_object()) tags = json::object();
        tags[text(value, "key")] = member(value, "value");
      } else if (target == "attributeDescription") {
        (*attribute)["description"] = value;
      } else if (target == "attributeContentType") {
        (*attribute)["contentType"] = value;
      } else if (target == "attributeName") {
        const std::string new_name = value.is_string() ? value.get<std::string>() : std::string();
        if (new_name != attribute_name && find_attribute(device, new_name) != nullptr) {
          throw Failure{"attribute " + new_name + " exists already"};
        }
        (*find_attribute(device, attribute_name))["name"] = new_name;
        for (auto& [now, before] : tracker.origins) {
          if (now == attribute_name) now = new_name;
        }
      }
    } else {
      device[target] = value; // name, description, deviceClass, gatewayId, parentId, systemInterval, keepDuplicates
    }
    return;
  }
  if (operation == "remove") {
    if (target == "tag") {
      tracker.note_repeated_key(device, text(op, "tagKey"), "remove");
      remove_tag(device, text(op, "tagKey"));
    } else if (target == "attribute") {
      json& attributes = list(device, "attributes");
      json kept = json::array();
      for (auto& attribute : attributes) {
        if (text(attribute, "name") != attribute_name) kept.push_back(std::move(attribute));
      }
      attributes = std::move(kept);
      std::erase_if(tracker.origins, [&](const auto& origin) {
        if (origin.first != attribute_name) return false;
        tracker.removed.push_back(origin.second);
        return true;
      });
    } else if (target == "attributeTag") {
      if (json* attribute = find_attribute(device, attribute_name)) {
        if (attribute->contains("attributeTags") && (*attribute)["attributeTags"].is_object()) {
          (*attribute)["attributeTags"].erase(text(op, "tagKey"));
        }
      }
    } else if (target == "attributeDescription") {
      if (json* attribute = find_attribute(device, attribute_name)) attribute->erase("description");
    } else {
      // description, parentId: the API shows a removed description as "" and a removed parent as null.
      if (device.contains(target)) device[target] = target == "description" ? json("") : json(nullptr);
    }
    return;
  }
  if (operation == "add") {
    const std::string name = text(value, "name");
    if (find_attribute(device, name) != nullptr) throw Failure{"attribute " + name + " exists already"};
    list(device, "attributes").push_back(value);
  }
}

bool array_member(const json& device, const char* key, const json*& out)
{
  out = nullptr;
  if (!device.is_object()) return false;
  const auto it = device.find(key);
  if (it == device.end() || !it->is_array()) return false;
  out = &*it;
  return true;
}

const json& empty_array()
{
  static const json empty = json::array();
  return empty;
}

const json& list_of(const json& device, const char* key)
{
  const json* found = nullptr;
  return array_member(device, key, found) ? *found : empty_array();
}

// Whether the keys `key_of` gives are all different.
template <class KeyOf> bool unique_keys(const json& items, KeyOf key_of)
{
  std::vector<std::string> keys;
  for (const auto& item : items) keys.push_back(key_of(item));
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) == keys.end();
}

// Whether `after` is `before` with some items removed, the rest in the same
// order, and new items (keys not in `before`) appended: what per-item
// entries (remove, set in place, add at the end) can say.
template <class KeyOf> bool expressible_per_item(const json& before, const json& after, KeyOf key_of)
{
  std::vector<std::string> old_keys;
  for (const auto& item : before) old_keys.push_back(key_of(item));
  std::size_t cursor = 0;
  bool appending = false;
  for (const auto& item : after) {
    const std::string key = key_of(item);
    const auto found = std::find(old_keys.begin(), old_keys.end(), key);
    if (found == old_keys.end()) {
      appending = true;
      continue;
    }
    const auto position = static_cast<std::size_t>(found - old_keys.begin());
    if (appending || position < cursor) return false; // an old item after a new one, or out of order
    cursor = position + 1;
  }
  return true;
}

std::string tag_key(const json& tag)
{
  return text(tag, "key");
}

std::string attribute_name(const json& attribute)
{
  return text(attribute, "name");
}

const json* find_by(const json& items, const std::string& key, std::string (*key_of)(const json&))
{
  for (const auto& item : items) {
    if (key_of(item) == key) return &item;
  }
  return nullptr;
}

void tag_changes(const json& before, const json& after, std::vector<FieldChange>& changes)
{
  const json& old_tags = list_of(before, "tags");
  const json& new_tags = list_of(after, "tags");
  if (old_tags == new_tags) return;
  if (!unique_keys(old_tags, tag_key) || !unique_keys(new_tags, tag_key) ||
      !expressible_per_item(old_tags, new_tags, tag_key)) {
    changes.push_back({"tags", old_tags, new_tags, ChangeOp::replace});
    return;
  }
  for (const auto& tag : old_tags) {
    if (find_by(new_tags, tag_key(tag), tag_key) == nullptr)
      changes.push_back({"tags." + tag_key(tag), member(tag, "value"), nullptr, ChangeOp::remove});
  }
  for (const auto& tag : old_tags) {
    if (const json* now = find_by(new_tags, tag_key(tag), tag_key);
        now && member(*now, "value") != member(tag, "value"))
      changes.push_back({"tags." + tag_key(tag), member(tag, "value"), member(*now, "value"), ChangeOp::set});
  }
  for (const auto& tag : new_tags) {
    if (find_by(old_tags, tag_key(tag), tag_key) == nullptr)
      changes.push_back({"tags." + tag_key(tag), nullptr, member(tag, "value"), ChangeOp::add});
  }
}

// One attribute's parts, from `old_attribute` to `new_attribute` (either may be null).
void attribute_part_changes(const std::string& name, const json& old_attribute, const json& new_attribute,
                            std::vector<FieldChange>& changes)
{
  const std::string field = "attributes." + name;
  const auto part = [&](const std::string& suffix, const json& old_value, const json& new_value) {
    if (old_value == new_value) return;
    const ChangeOp op = old_value.is_null() ? ChangeOp::add : new_value.is_null() ? ChangeOp::remove : ChangeOp::set;
    changes.push_back({field + suffix, old_value, new_value, op});
  };
  for (const char* name_of_part : {"description", "contentType"}) {
    part(std::string(".") + name_of_part, member(old_attribute, name_of_part), member(new_attribute, name_of_part));
  }
  std::vector<std::string> keys;
  for (const json* attribute : {&old_attribute, &new_attribute}) {
    const json tags = member(*attribute, "attributeTags");
    if (tags.is_object()) {
      for (const auto& [key, value] : tags.items()) keys.push_back(key);
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const auto& key : keys) {
    part(".tags." + key, member(member(old_attribute, "attributeTags"), key),
         member(member(new_attribute, "attributeTags"), key));
  }
  // Anything else an attribute holds (system settings, ...), as a whole.
  json old_rest = old_attribute.is_object() ? old_attribute : json::object();
  json new_rest = new_attribute.is_object() ? new_attribute : json::object();
  for (const char* known : {"name", "dataType", "description", "contentType", "attributeTags"}) {
    old_rest.erase(known);
    new_rest.erase(known);
  }
  part(".other", old_rest.empty() ? json(nullptr) : old_rest, new_rest.empty() ? json(nullptr) : new_rest);
}

void attribute_changes(const json& before, const json& after, const PatchTrace& trace,
                       std::vector<FieldChange>& changes)
{
  const json& new_attributes = list_of(after, "attributes");
  json working = list_of(before, "attributes"); // the device's attributes as the entries so far leave them
  if (working == new_attributes) return;
  const auto replace_all = [&] {
    changes.push_back({"attributes", list_of(before, "attributes"), new_attributes, ChangeOp::replace});
  };
  if (!unique_keys(working, attribute_name) || !unique_keys(new_attributes, attribute_name)) {
    replace_all();
    return;
  }
  std::vector<FieldChange> entries;
  const auto remove = [&](const std::string& name) {
    for (auto it = working.begin(); it != working.end(); ++it) {
      if (attribute_name(*it) != name) continue;
      entries.push_back({"attributes." + name, member(*it, "dataType"), nullptr, ChangeOp::remove});
      working.erase(it);
      return;
    }
  };
  // What the patch removed goes first, then the renames (each onto a name
  // no attribute holds at that point), then whatever else is gone by name.
  for (const auto& name : trace.removed) remove(name);
  for (const auto& [from, to] : trace.renames) {
    json* renamed = nullptr;
    for (auto& attribute : working) {
      if (attribute_name(attribute) == from) renamed = &attribute;
    }
    if (renamed == nullptr || find_by(working, to, attribute_name) != nullptr) {
      replace_all(); // renames through a name still held (a swap): no per-item list says it
      return;
    }
    (*renamed)["name"] = to;
    entries.push_back({"attributes." + from, from, to, ChangeOp::rename});
  }
  std::vector<std::string> gone;
  for (const auto& attribute : working) {
    if (find_by(new_attributes, attribute_name(attribute), attribute_name) == nullptr)
      gone.push_back(attribute_name(attribute));
  }
  for (const auto& name : gone) remove(name);
  if (!expressible_per_item(working, new_attributes, attribute_name)) {
    replace_all();
    return;
  }
  for (const auto& attribute : working) {
    const json* now = find_by(new_attributes, attribute_name(attribute), attribute_name);
    const std::string name = attribute_name(attribute);
    if (member(attribute, "dataType") != member(*now, "dataType")) {
      entries.push_back({"attributes." + name, member(attribute, "dataType"), member(*now, "dataType"), ChangeOp::set});
    }
    attribute_part_changes(name, attribute, *now, entries);
  }
  for (const auto& attribute : new_attributes) {
    if (find_by(working, attribute_name(attribute), attribute_name) != nullptr) continue;
    const std::string name = attribute_name(attribute);
    entries.push_back({"attributes." + name, nullptr, member(attribute, "dataType"), ChangeOp::add});
    attribute_part_changes(name, nullptr, attribute, entries);
  }
  changes.insert(changes.end(), entries.begin(), entries.end());
}

} // namespace

const char* to_string(PatchResult result)
{
  switch (result) {
  case PatchResult::updated: return "updated";
  case PatchResult::skipped: return "skipped";
  case PatchResult::failed: return "failed";
  }
  return "?";
}

const char* to_string(ChangeOp op)
{
  switch (op) {
  case ChangeOp::set: return "set";
  case ChangeOp::add: return "add";
  case ChangeOp::remove: return "remove";
  case ChangeOp::rename: return "rename";
  case ChangeOp::replace: return "replace";
  }
  return "?";
}

SimulatedPatch simulate_patch(const json& device, const json& patch)
{
  SimulatedPatch out;
  json after = device;
  Tracker tracker;
  for (const auto& attribute : list_of(device, "attributes"))
    tracker.origins.emplace_back(attribute_name(attribute), attribute_name(attribute));
  try {
    if (patch.contains("updateFields") && patch["updateFields"].is_object()) {
      for (const auto& [field, value] : patch["updateFields"].items()) {
        after[field] = value;
        if (field == "attributes") tracker.origins.clear(); // a new list: none of it is an old one renamed
      }
    }
    if (patch.contains("updateOperations") && patch["updateOperations"].is_array()) {
      for (const auto& op : patch["updateOperations"]) apply_operation(after, op, tracker);
    }
  } catch (const Failure& failure) {
    out.after = device;
    out.result = PatchResult::failed;
    out.failure = failure.why;
    return out;
  }
  out.trace.removed = std::move(tracker.removed);
  for (const auto& [now, before] : tracker.origins) {
    if (now != before) out.trace.renames.emplace_back(before, now);
  }
  out.changes = document_changes(device, after, out.trace);
  out.result = out.changes.empty() ? PatchResult::skipped : PatchResult::updated;
  // Even a device the reading leaves unchanged is uncertain: the other reading may change it.
  out.uncertain = std::move(tracker.uncertain);
  out.after = std::move(after);
  return out;
}

bool same_state(const json& a, const json& b)
{
  return document_changes(a, b).empty();
}

std::vector<FieldChange> document_changes(const json& before, const json& after, const PatchTrace& trace)
{
  std::vector<FieldChange> changes;
  // Top-level fields, tags and attributes aside, by name (their order is
  // nobody's): a walk over the two objects' members side by side (a JSON
  // object here keeps its members sorted by name).
  static const json k_empty = json::object();
  const json& old_object = before.is_object() ? before : k_empty;
  const json& new_object = after.is_object() ? after : k_empty;
  auto old_it = old_object.begin();
  auto new_it = new_object.begin();
  const auto compare = [&](const std::string& field, const json& old_value, const json& new_value) {
    if (field == "tags" || field == "attributes" || bookkeeping(field) || old_value == new_value) return;
    changes.push_back({field, old_value, new_value, ChangeOp::set});
  };
  static const json k_null = nullptr;
  while (old_it != old_object.end() || new_it != new_object.end()) {
    if (new_it == new_object.end() || (old_it != old_object.end() && old_it.key() < new_it.key())) {
      compare(old_it.key(), old_it.value(), k_null);
      ++old_it;
    } else if (old_it == old_object.end() || new_it.key() < old_it.key()) {
      compare(new_it.key(), k_null, new_it.value());
      ++new_it;
    } else {
      compare(old_it.key(), old_it.value(), new_it.value());
      ++old_it;
      ++new_it;
    }
  }
  tag_changes(before, after, changes);
  attribute_changes(before, after, trace, changes);
  return changes;
}

} // namespace fleetrun::jobs
