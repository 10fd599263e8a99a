// patch: updates devices by deviceIds (up to 1000 a request). set/remove
// operations reach the same end state when repeated; add/rename fail
// harmlessly the second time. Either way an unknown outcome is re-sent.
#include "jobs/patch_step.hpp"
#include "jobs/query_step_kinds.hpp"

#include "api/json_read.hpp"

namespace fleetrun::jobs {

using nlohmann::json;

namespace detail {

namespace {

class PatchStep final : public StepKind {
public:
  explicit PatchStep(json params) : m_params(std::move(params)) {}
  int max_batch_size() const override { return k_max_device_ids; }
  Request build(const std::vector<std::string>& ids, const BatchContext&) const override
  {
    json body = m_params;
    body["deviceIds"] = ids;
    return api::endpoints::patch_devices(body.dump());
  }
  OnUnknown on_unknown() const override { return OnUnknown::resend; }

private:
  json m_params;
};

} // namespace

std::unique_ptr<StepKind> make_patch_step(json params)
{
  return std::make_unique<PatchStep>(std::move(params));
}

} // namespace detail

namespace {

std::string tag_value(const json& device, const std::string& key)
{
  const auto tags = device.find("tags");
  if (tags == device.end() || !tags->is_array()) return {};
  for (const auto& tag : *tags) {
    if (api::string_member(tag, "key") == key) return api::string_member(tag, "value");
  }
  return {};
}

json* find_attribute(json& device, const std::string& name)
{
  if (!device.contains("attributes") || !device["attributes"].is_array()) return nullptr;
  for (auto& attribute : device["attributes"]) {
    if (api::string_member(attribute, "name") == name) return &attribute;
  }
  return nullptr;
}

json field_value(const json& device, const std::string& field)
{
  const auto it = device.find(field);
  return it == device.end() ? json(nullptr) : *it;
}

} // namespace

std::vector<FieldChange> patch_changes(const json& device, const json& params)
{
  // Each change is described by the field a person would look at: a tag by
  // its key, an attribute by its name, a top-level field by its name.
  std::vector<FieldChange> changes;
  json after = device;
  const auto record = [&](const std::string& field, const json& before_value, const json& after_value) {
    for (auto& change : changes) {
      if (change.field == field) {
        change.after = after_value;
        return;
      }
    }
    changes.push_back({field, before_value, after_value});
  };
  if (auto fields = params.find("updateFields"); fields != params.end() && fields->is_object()) {
    for (const auto& [key, value] : fields->items()) record(key, field_value(after, key), value);
  }
  if (auto operations = params.find("updateOperations"); operations != params.end() && operations->is_array()) {
    for (const auto& op : *operations) {
      const std::string operation = op.value("operation", "");
      const std::string target = op.value("target", "");
      const std::string attribute = op.value("attributeName", "");
      if (target == "tag") {
        const std::string key = operation == "set" ? op["value"].value("key", "") : op.value("tagKey", "");
        const std::string before = tag_value(after, key);
        const json before_value = before.empty() ? json(nullptr) : json(before);
        record("tags." + key, before_value, operation == "set" ? op["value"]["value"] : json(nullptr));
      } else if (target == "attribute" || target == "attributeSystem") {
        const std::string name = operation == "add" ? op["value"].value("name", "") : attribute;
        json* existing = find_attribute(after, name);
        record("attributes." + name, existing ? json(api::string_member(*existing, "dataType")) : json(nullptr),
               operation == "add" ? json(op["value"].value("dataType", "")) : json(nullptr));
      } else if (target.starts_with("attribute")) {
        json* existing = find_attribute(after, attribute);
        const std::string what = target == "attributeName"          ? "name"
                                 : target == "attributeDescription" ? "description"
                                 : target == "attributeContentType" ? "contentType"
                                                                    : "tags";
        json before = existing ? field_value(*existing, what) : json(nullptr);
        if (target == "attributeTag") {
          const std::string key = operation == "set" ? op["value"].value("key", "") : op.value("tagKey", "");
          before = existing && existing->contains("attributeTags") && (*existing)["attributeTags"].is_object()
                       ? field_value((*existing)["attributeTags"], key)
                       : json(nullptr);
          record("attributes." + attribute + ".tags." + key, before,
                 operation == "set" ? op["value"]["value"] : json(nullptr));
        } else {
          record("attributes." + attribute + "." + what, before, operation == "set" ? op["value"] : json(nullptr));
        }
      } else {
        record(target, field_value(after, target), operation == "set" ? op["value"] : json(nullptr));
      }
    }
  }
  std::erase_if(changes, [](const FieldChange& c) { return c.before == c.after; });
  return changes;
}

std::set<std::string> patch_fields_read(const json& params)
{
  std::set<std::string> fields = {"id", "name"};
  if (auto update = params.find("updateFields"); update != params.end() && update->is_object()) {
    for (const auto& [key, value] : update->items()) fields.insert(key);
  }
  if (auto operations = params.find("updateOperations"); operations != params.end() && operations->is_array()) {
    for (const auto& op : *operations) {
      const std::string target = op.value("target", "");
      if (target == "tag") {
        fields.insert("tags");
      } else if (target.starts_with("attribute")) {
        fields.insert("attributes");
      } else {
        fields.insert(target);
      }
    }
  }
  return fields;
}

} // namespace fleetrun::jobs
