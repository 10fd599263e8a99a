#include "losant/object_id.hpp"

#include <algorithm>
#include <cctype>

namespace fleetrun::losant {

bool is_object_id(std::string_view text) noexcept
{
  return text.size() == 24 && std::all_of(text.begin(), text.end(),
                                          [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::string normalize_object_id(std::string_view id)
{
  std::string lowered(id);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return lowered;
}

} // namespace fleetrun::losant
