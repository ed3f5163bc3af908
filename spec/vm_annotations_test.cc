#include "spec/vm_annotations.h"

#include <gtest/gtest.h>

namespace runvm::oci {
namespace {

std::string error_of(const std::map<std::string, std::string>& a) {
  auto s = parse_vm_annotations(a);
  return s.ok() ? "ok" : s.error().message;
}

TEST(VmAnnotations, ByteSizes) {
  EXPECT_EQ(parse_byte_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("512Mi"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("2g"), 2ull << 30);
  EXPECT_EQ(parse_byte_size("1T"), 1ull << 40);
  EXPECT_EQ(parse_byte_size("4096"), 4096u);
  EXPECT_EQ(parse_byte_size("4096b"), 4096u);
  for (const char* bad : {"", "M", "0", "0M", "-1M", "1.5G", "12Q", "1 G", "1GG", "1P",
                          "99999999999999999999", "9999999999T"})
    EXPECT_FALSE(parse_byte_size(bad)) << bad;
}

TEST(VmAnnotations, ValidSettings) {
  auto s = parse_vm_annotations({{"runvm.io/memory", "512M"},
                                 {"runvm.io/vcpus", "2"},
                                 {"runvm.io/accel", "tcg"},
                                 {"runvm.io/kernel-cmdline", "loglevel=7 foo.bar=1"},
                                 {"io.kubernetes.pod.name", "web"}});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->memory_mib, 512u);
  EXPECT_EQ(s->vcpus, 2u);
  EXPECT_EQ(s->accel, "tcg");
  EXPECT_EQ(s->kernel_cmdline, "loglevel=7 foo.bar=1");
  auto none = parse_vm_annotations({});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->memory_mib);
  EXPECT_FALSE(none->vcpus);
  EXPECT_FALSE(none->accel);
  EXPECT_EQ(parse_vm_annotations({{"runvm.io/memory", "100000000"}})->memory_mib, 96u);
}

TEST(VmAnnotations, ErrorsNameTheAnnotation) {
  EXPECT_EQ(error_of({{"runvm.io/memory", "12Q"}}),
            R"(annotations["runvm.io/memory"]: "12Q" is not a size like "512M" or "2G")");
  EXPECT_EQ(error_of({{"runvm.io/memory", "32M"}}),
            R"(annotations["runvm.io/memory"]: "32M" is not between 64M and 1T)");
  EXPECT_EQ(error_of({{"runvm.io/vcpus", "0"}}),
            R"(annotations["runvm.io/vcpus"]: "0" is not an integer between 1 and 64)");
  EXPECT_EQ(error_of({{"runvm.io/vcpus", "65"}}),
            R"(annotations["runvm.io/vcpus"]: "65" is not an integer between 1 and 64)");
  EXPECT_EQ(error_of({{"runvm.io/vcpus", "+2"}}),
            R"(annotations["runvm.io/vcpus"]: "+2" is not an integer between 1 and 64)");
  EXPECT_EQ(error_of({{"runvm.io/accel", "fast"}}),
            R"(annotations["runvm.io/accel"]: "fast" is not one of auto, kvm, tcg)");
  EXPECT_EQ(
      error_of({{"runvm.io/kernel-cmdline", "quiet rdinit=/bin/sh"}}),
      R"(annotations["runvm.io/kernel-cmdline"]: rdinit= cannot be set: runvm's agent is the guest's init)");
  EXPECT_EQ(error_of({{"runvm.io/kernel-cmdline", "a\nb"}}),
            R"(annotations["runvm.io/kernel-cmdline"]: must be printable ASCII on one line)");
  EXPECT_EQ(error_of({{"runvm.io/kernel-cmdline", std::string(1025, 'x')}}),
            R"(annotations["runvm.io/kernel-cmdline"]: longer than 1024 bytes)");
  EXPECT_EQ(error_of({{"runvm.io/memroy", "1G"}}),
            R"(annotations["runvm.io/memroy"]: unknown runvm annotation (known: runvm.io/memory, )"
            R"(runvm.io/vcpus, runvm.io/accel, runvm.io/kernel-cmdline))");
}

}  // namespace
}  // namespace runvm::oci
