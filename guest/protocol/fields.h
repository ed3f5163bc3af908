// Typed, range-checked member lookups shared by the message parsers. Every
// error names the JSON path of the offending member.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::proto::fields {

inline Result<uint64_t> u64(const json::Value& v, std::string_view key) {
  return RUNVM_TRY(v.at(key)).as_uint();
}

// An unsigned integer at most `max`.
inline Result<uint64_t> bounded(const json::Value& field, uint64_t max) {
  uint64_t n = RUNVM_TRY(field.as_uint());
  if (n > max) return field.error("must be at most " + std::to_string(max));
  return n;
}

inline Result<uint32_t> u32(const json::Value& v, std::string_view key) {
  json::Value field = RUNVM_TRY(v.at(key));
  uint64_t n = RUNVM_TRY(field.as_uint());
  if (n > std::numeric_limits<uint32_t>::max()) return field.error("must fit in 32 bits");
  return static_cast<uint32_t>(n);
}

inline Result<std::string> string(const json::Value& v, std::string_view key) {
  return RUNVM_TRY(v.at(key)).as_string();
}

// Optional members: `fallback` when absent.
inline Result<bool> opt_bool(const json::Value& v, std::string_view key, bool fallback) {
  auto field = RUNVM_TRY(v.get(key));
  return field ? field->as_bool() : Result<bool>(fallback);
}
inline Result<std::string> opt_string(const json::Value& v, std::string_view key,
                                      std::string fallback = {}) {
  auto field = RUNVM_TRY(v.get(key));
  return field ? field->as_string() : Result<std::string>(std::move(fallback));
}
inline Result<uint64_t> opt_bounded(const json::Value& v, std::string_view key, uint64_t max,
                                    uint64_t fallback) {
  auto field = RUNVM_TRY(v.get(key));
  return field ? bounded(*field, max) : Result<uint64_t>(fallback);
}

// Optional array of strings; at most `max_items`.
inline Result<std::vector<std::string>> opt_strings(const json::Value& v, std::string_view key,
                                                    size_t max_items) {
  std::vector<std::string> out;
  auto field = RUNVM_TRY(v.get(key));
  if (!field) return out;
  auto items = RUNVM_TRY(field->as_array());
  if (items.size() > max_items)
    return field->error("at most " + std::to_string(max_items) + " items");
  for (const auto& item : items) out.push_back(RUNVM_TRY(item.as_string()));
  return out;
}

}  // namespace runvm::proto::fields
