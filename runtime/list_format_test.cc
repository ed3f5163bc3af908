#include "runtime/list_format.h"

#include <gtest/gtest.h>

namespace runvm::cli {
namespace {

oci::ContainerState state(std::string id, int64_t pid, oci::Status st) {
  oci::ContainerState s;
  s.oci_version = "1.0.2";
  s.id = std::move(id);
  s.pid = pid;
  s.status = st;
  s.bundle = "/b/" + s.id;
  s.rootfs = s.bundle + "/rootfs";
  s.created_ns = 1700000000123456789;
  s.owner = "root";
  return s;
}

TEST(ListFormat, EmptyTableIsRuncsHeader) {
  EXPECT_EQ(list_table({}), "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n");
}

TEST(ListFormat, ColumnsWidenToTheLongestCellPlusPadding) {
  auto t = list_table({state("c1", 42, oci::Status::kRunning),
                       state("a-much-longer-id", 0, oci::Status::kStopped)});
  // Columns: ID 16 + 3, PID and STATUS the minimum 12, BUNDLE 19 + 3, CREATED 30 + 3.
  const std::string created = "2023-11-14T22:13:20.123456789Z";
  EXPECT_EQ(t, "ID" + std::string(17, ' ') + "PID         STATUS      BUNDLE" +
                   std::string(16, ' ') + "CREATED" + std::string(26, ' ') + "OWNER\n" + "c1" +
                   std::string(17, ' ') + "42          running     /b/c1" + std::string(17, ' ') +
                   created + "   root\n" +
                   "a-much-longer-id   0           stopped     /b/a-much-longer-id   " + created +
                   "   root\n");
}

TEST(ListFormat, TabwriterCountsRunesAndLeavesTheLastCellAlone) {
  EXPECT_EQ(tabwrite({{"é", "x"}, {"ab", "yyyyyyyy"}}, 0, 1), "é  x\nab yyyyyyyy\n");
}

TEST(ListFormat, JsonIsAnArrayOfStatesWithOwner) {
  EXPECT_EQ(list_json({}), "null\n");
  auto s = state("c1", 7, oci::Status::kPaused);
  s.annotations["k"] = "v";
  EXPECT_EQ(list_json({s}),
            "[{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"pid\":7,\"status\":\"paused\","
            "\"bundle\":\"/b/c1\",\"rootfs\":\"/b/c1/rootfs\","
            "\"created\":\"2023-11-14T22:13:20.123456789Z\",\"annotations\":{\"k\":\"v\"},"
            "\"owner\":\"root\"}]\n");
}

}  // namespace
}  // namespace runvm::cli
