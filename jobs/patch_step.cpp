// patch: updates devices by deviceIds (up to 1000 a request). set/remove
// operations reach the same end state when repeated; add/rename fail
// harmlessly the second time. Either way an unknown outcome is re-sent.
#include "jobs/patch_step.hpp"
#include "jobs/query_step_kinds.hpp"

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
