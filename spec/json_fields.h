// Field readers over json::Value shared by the config and state parsers.
// They follow Go's encoding/json as runc sees it: an absent member and an
// explicit null both mean "zero value"; a present member of the wrong type
// or out of range is an error naming its path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/json.h"
#include "spec/base/result.h"

namespace runvm::oci::fields {

// Member `key` of object `obj`, nullopt when absent or null.
Result<std::optional<json::Value>> get(const json::Value& obj, std::string_view key);
// Like get(), but absent or null is "<path>.<key>: is required".
Result<json::Value> require(const json::Value& obj, std::string_view key);

Result<std::string> string_or_empty(const json::Value& obj, std::string_view key);
Result<bool> bool_or_false(const json::Value& obj, std::string_view key);
Result<std::vector<std::string>> string_list(const json::Value& obj, std::string_view key);
Result<std::map<std::string, std::string>> string_map(const json::Value& obj, std::string_view key);

// Integers with a range check ("must be at most 4294967295").
Result<uint64_t> as_uint(const json::Value& v, uint64_t max = UINT64_MAX);
Result<int64_t> as_int(const json::Value& v, int64_t min = INT64_MIN, int64_t max = INT64_MAX);
Result<std::optional<uint64_t>> opt_uint(const json::Value& obj, std::string_view key,
                                         uint64_t max = UINT64_MAX);
Result<std::optional<int64_t>> opt_int(const json::Value& obj, std::string_view key,
                                       int64_t min = INT64_MIN, int64_t max = INT64_MAX);

// Array member parsed element by element; empty when absent or null.
template <class T, class ParseOne>
Result<std::vector<T>> list(const json::Value& obj, std::string_view key, ParseOne parse_one) {
  std::vector<T> out;
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return out;
  for (const json::Value& e : RUNVM_TRY(v->as_array())) out.push_back(RUNVM_TRY(parse_one(e)));
  return out;
}

// The string at `v`, which must be one of `known`: else
// "<path>: unknown <what> "<value>"".
Result<std::string> one_of(const json::Value& v, std::span<const std::string_view> known,
                           std::string_view what);
inline Result<std::string> one_of(const json::Value& v,
                                  std::initializer_list<std::string_view> known,
                                  std::string_view what) {
  return one_of(v, std::span<const std::string_view>(known.begin(), known.size()), what);
}

bool is_absolute_path(std::string_view p);
// "KEY=VALUE" with a non-empty KEY.
bool is_env_entry(std::string_view e);

// `s` in double quotes with control and non-ASCII bytes escaped, so
// hostile input cannot break an error message across lines.
std::string quote(std::string_view s);

}  // namespace runvm::oci::fields
