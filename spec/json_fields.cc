#include "spec/json_fields.h"

#include <cstdio>

namespace runvm::oci::fields {

namespace {

std::string member_path(const json::Value& obj, std::string_view key) {
  return obj.path().empty() ? std::string(key) : obj.path() + "." + std::string(key);
}

}  // namespace

Result<std::optional<json::Value>> get(const json::Value& obj, std::string_view key) {
  auto v = RUNVM_TRY(obj.get(key));
  if (v && v->is_null()) return std::optional<json::Value>();
  return v;
}

Result<json::Value> require(const json::Value& obj, std::string_view key) {
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return make_error(member_path(obj, key) + ": is required");
  return *v;
}

Result<std::string> string_or_empty(const json::Value& obj, std::string_view key) {
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return std::string();
  return v->as_string();
}

Result<bool> bool_or_false(const json::Value& obj, std::string_view key) {
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return false;
  return v->as_bool();
}

Result<std::vector<std::string>> string_list(const json::Value& obj, std::string_view key) {
  return list<std::string>(obj, key, [](const json::Value& e) { return e.as_string(); });
}

Result<std::map<std::string, std::string>> string_map(const json::Value& obj,
                                                      std::string_view key) {
  std::map<std::string, std::string> out;
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return out;
  for (const auto& [k, val] : RUNVM_TRY(v->as_object())) {
    if (!val.is_string()) return make_error(v->path() + "[" + quote(k) + "]: must be a string");
    // Go keeps the last of duplicate keys.
    out[k] = RUNVM_TRY(val.as_string());
  }
  return out;
}

Result<uint64_t> as_uint(const json::Value& v, uint64_t max) {
  uint64_t u = RUNVM_TRY(v.as_uint());
  if (u > max) return v.error("must be at most " + std::to_string(max));
  return u;
}

Result<int64_t> as_int(const json::Value& v, int64_t min, int64_t max) {
  int64_t i = RUNVM_TRY(v.as_int());
  if (i < min || i > max)
    return v.error("must be between " + std::to_string(min) + " and " + std::to_string(max));
  return i;
}

Result<std::optional<uint64_t>> opt_uint(const json::Value& obj, std::string_view key,
                                         uint64_t max) {
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return std::optional<uint64_t>();
  return std::optional<uint64_t>(RUNVM_TRY(as_uint(*v, max)));
}

Result<std::optional<int64_t>> opt_int(const json::Value& obj, std::string_view key, int64_t min,
                                       int64_t max) {
  auto v = RUNVM_TRY(get(obj, key));
  if (!v) return std::optional<int64_t>();
  return std::optional<int64_t>(RUNVM_TRY(as_int(*v, min, max)));
}

Result<std::string> one_of(const json::Value& v, std::span<const std::string_view> known,
                           std::string_view what) {
  std::string s = RUNVM_TRY(v.as_string());
  for (std::string_view k : known)
    if (s == k) return s;
  return v.error("unknown " + std::string(what) + " " + quote(s));
}

bool is_absolute_path(std::string_view p) { return !p.empty() && p.front() == '/'; }

bool is_env_entry(std::string_view e) {
  size_t eq = e.find('=');
  return eq != std::string_view::npos && eq > 0;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace runvm::oci::fields
