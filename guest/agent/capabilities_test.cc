#include "guest/agent/capabilities.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace runvm::agent {
namespace {

TEST(Capabilities, NamesResolveToNumbers) {
  auto p = resolve_capabilities({{"CAP_KILL", "CAP_CHOWN"}, {"CAP_KILL"}, {}, {"CAP_KILL"}, {}});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->bounding, (std::vector<cap_value_t>{CAP_KILL, CAP_CHOWN}));
  EXPECT_EQ(p->effective, (std::vector<cap_value_t>{CAP_KILL}));
  EXPECT_TRUE(p->ambient.empty());
}

TEST(Capabilities, UnknownNamesNameTheirPlace) {
  auto p = resolve_capabilities({{}, {}, {}, {}, {"CAP_KILL", "CAP_FOO"}});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "process.capabilities.ambient[1]: unknown capability \"CAP_FOO\"");
  EXPECT_FALSE(resolve_capabilities({{"kill"}, {}, {}, {}, {}}).ok());
}

}  // namespace
}  // namespace runvm::agent
