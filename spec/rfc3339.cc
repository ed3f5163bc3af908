#include "spec/rfc3339.h"

#include <time.h>

#include <cstdint>
#include <cstdio>

#include "spec/json_fields.h"

namespace runvm::oci {

namespace {

constexpr int64_t kNanos = 1'000'000'000;

// Reads exactly `n` digits at s[pos..].
bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string format_rfc3339_nano(int64_t unix_ns) {
  int64_t sec = unix_ns / kNanos, nsec = unix_ns % kNanos;
  if (nsec < 0) {
    nsec += kNanos;
    --sec;
  }
  time_t t = static_cast<time_t>(sec);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (nsec) {
    snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nsec));
    std::string frac = buf;
    while (frac.back() == '0') frac.pop_back();
    out += frac;
  }
  return out + "Z";
}

Result<int64_t> parse_rfc3339_nano(std::string_view s) {
  auto bad = [&] { return make_error("invalid RFC 3339 time " + fields::quote(s.substr(0, 64))); };
  struct tm tm {};
  int year, mon, day, hour, min, sec;
  if (!digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, &mon) ||
      s[7] != '-' || !digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, &hour) || s[13] != ':' || !digits(s, 14, 2, &min) || s[16] != ':' ||
      !digits(s, 17, 2, &sec))
    return bad();
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) return bad();
  size_t pos = 19;
  int64_t nsec = 0;
  if (pos < s.size() && s[pos] == '.') {
    size_t n = 0;
    int64_t scale = kNanos;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++n) {
      if (n < 9) nsec = nsec * 10 + (s[pos] - '0'), scale /= 10;
    }
    if (n == 0) return bad();
    nsec *= scale;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, &om) || oh > 23 || om > 59)
      return bad();
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  // Unix nanoseconds in an int64 span the years 1678 to 2261.
  if (secs <= INT64_MIN / kNanos || secs >= INT64_MAX / kNanos) return bad();
  return secs * kNanos + nsec;
}

int64_t now_unix_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNanos + ts.tv_nsec;
}

}  // namespace runvm::oci
