#include "shim/net/tap_bridge.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/tc.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <cstring>

#include "shim/net/netns_reader.h"
#include "shim/net/tap_holder.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"

namespace runvm::net {
namespace {

// The ingress qdisc's handle (ffff:); filters hang below it.
constexpr uint32_t kIngressHandle = TC_H_MAKE(TC_H_INGRESS, 0);

Status remove_ingress(nl_sock* sock, int ifindex) {
  nl_cache* c = nullptr;
  if (int err = rtnl_qdisc_alloc_cache(sock, &c); err < 0)
    return nl::error("netlink: list qdiscs", err);
  nl::Cache cache(c);
  nl::Qdisc q(rtnl_qdisc_get_by_parent(cache.get(), ifindex, TC_H_INGRESS));
  if (!q) return {};
  // Its filters go with it.
  if (int err = rtnl_qdisc_delete(sock, q.get()); err < 0)
    return nl::error("netlink: delete ingress qdisc", err);
  return {};
}

Status add_ingress(nl_sock* sock, int ifindex) {
  nl::Qdisc q(rtnl_qdisc_alloc());
  if (!q) return make_error("netlink: out of memory");
  rtnl_tc_set_ifindex(TC_CAST(q.get()), ifindex);
  rtnl_tc_set_parent(TC_CAST(q.get()), TC_H_INGRESS);
  rtnl_tc_set_handle(TC_CAST(q.get()), kIngressHandle);
  if (int err = rtnl_tc_set_kind(TC_CAST(q.get()), "ingress"); err < 0)
    return nl::error("netlink: ingress qdisc", err);
  if (int err = rtnl_qdisc_add(sock, q.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return nl::error("netlink: add ingress qdisc", err);
  return {};
}

// Everything arriving on `from` leaves through `to` (u32 matching every
// packet, action mirred egress redirect; stolen, so `from`'s stack never
// sees it).
Status add_redirect(nl_sock* sock, int from, int to) {
  nl::Classifier cls(rtnl_cls_alloc());
  if (!cls) return make_error("netlink: out of memory");
  rtnl_tc* tc = TC_CAST(cls.get());
  rtnl_tc_set_ifindex(tc, from);
  rtnl_tc_set_parent(tc, kIngressHandle);
  if (int err = rtnl_tc_set_kind(tc, "u32"); err < 0) return nl::error("netlink: u32", err);
  rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
  rtnl_cls_set_prio(cls.get(), 1);
  rtnl_u32_add_key_uint32(cls.get(), 0, 0, 0, 0);  // mask 0: every packet
  rtnl_u32_set_cls_terminal(cls.get());

  nl::Ptr<rtnl_act, rtnl_act_put> act(rtnl_act_alloc());
  if (!act) return make_error("netlink: out of memory");
  if (int err = rtnl_tc_set_kind(TC_CAST(act.get()), "mirred"); err < 0)
    return nl::error("netlink: mirred", err);
  rtnl_mirred_set_action(act.get(), TCA_EGRESS_REDIR);
  rtnl_mirred_set_policy(act.get(), TC_ACT_STOLEN);
  rtnl_mirred_set_ifindex(act.get(), to);
  // The classifier takes its own reference.
  if (int err = rtnl_u32_add_action(cls.get(), act.get()); err < 0)
    return nl::error("netlink: u32 action", err);
  if (int err = rtnl_cls_add(sock, cls.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return nl::error("netlink: add redirect filter", err);
  return {};
}

// Taps of ours a killed shim left (a tap outlives it only while another
// process, such as an orphaned QEMU, holds its fd). A tap a live shim holds
// is another container's VM's: refused rather than taken from it.
Status remove_stale_taps(nl_sock* sock, int netns_fd) {
  nl::Cache links = RUNVM_TRY(nl::link_cache(sock));
  std::vector<int> stale;
  nl::for_each<rtnl_link>(links.get(), [&](rtnl_link* l) {
    const char* kind = rtnl_link_get_type(l);
    const char* name = rtnl_link_get_name(l);
    for (size_t i = 0; i < proto::kMaxInterfaces; ++i)
      if (kind && name && std::strcmp(kind, "tun") == 0 && TapBridge::tap_name(i) == name)
        stale.push_back(rtnl_link_get_ifindex(l));
  });
  for (size_t i = 0; i < proto::kMaxInterfaces && !stale.empty(); ++i)
    if (auto holder = live_shim_holding(netns_fd, TapBridge::tap_name(i)))
      return make_error("in use by the VM of another runvm container (shim pid " +
                            std::to_string(*holder) +
                            "): containers that share a network namespace must be in one pod",
                        EBUSY);
  for (int ifindex : stale) RUNVM_CHECK(nl::delete_link(sock, ifindex).context("stale tap"));
  return {};
}

// A tap named `name` in the namespace `netns_fd`, with the virtio-net header
// so QEMU can hand checksum and segmentation offloads to the tap (QEMU sets
// TUNSETOFFLOAD from what the guest's driver negotiates).
Result<UniqueFd> open_tap(int netns_fd, const std::string& name) {
  UniqueFd fd;
  RUNVM_CHECK(nl::run_in_netns(netns_fd, [&]() -> Status {
    // The tap is made in the namespace of the thread that opens the device.
    fd.reset(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!fd) return errno_error("open /dev/net/tun");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return errno_error("TUNSETIFF " + name);
    return {};
  }));
  return fd;
}

}  // namespace

std::string TapBridge::tap_name(size_t i) { return "tap" + std::to_string(i) + "_runvm"; }

TapBridge& TapBridge::operator=(TapBridge&& o) noexcept {
  if (this != &o) {
    detach();
    path_ = std::move(o.path_);
    sock_ = std::move(o.sock_);
    network_ = std::move(o.network_);
    taps_ = std::move(o.taps_);
    interface_ifindexes_ = std::move(o.interface_ifindexes_);
  }
  return *this;
}

TapBridge::~TapBridge() { detach(); }

void TapBridge::detach() {
  if (!sock_) return;
  for (int ifindex : interface_ifindexes_)
    if (auto s = remove_ingress(sock_.get(), ifindex); !s.ok())
      log::warn("network namespace " + path_ + ": " + s.error().message);
  for (auto& tap : taps_) {
    // Deleting the link also drops its ingress qdisc and filter; the fd
    // alone would keep it while QEMU still holds a copy. By ifindex, never
    // by name: a later bridge may have replaced this tap (attach's clean-up
    // of leftovers) and has a new index.
    if (tap.ifindex > 0)
      if (auto s = nl::delete_link(sock_.get(), tap.ifindex); !s.ok() && s.error().code != ENODEV)
        log::warn("network namespace " + path_ + ": " + s.error().message);
    tap.fd.reset();
  }
  taps_.clear();
  interface_ifindexes_.clear();
  sock_.reset();
}

Result<TapBridge> TapBridge::attach(const std::string& netns_path) {
  UniqueFd ns = RUNVM_TRY(nl::open_netns(netns_path));
  auto attach = [&]() -> Result<TapBridge> {
    TapBridge b;
    b.path_ = netns_path;
    b.sock_ = RUNVM_TRY(nl::connect_route_in(ns.get()));
    b.network_ = RUNVM_TRY(read_network(b.sock_.get()));
    RUNVM_CHECK(remove_stale_taps(b.sock_.get(), ns.get()));
    for (size_t i = 0; i < b.network_.interfaces.size(); ++i) {
      const auto& iface = b.network_.interfaces[i];
      auto ctx = "interface " + iface.name;
      int ifindex = RUNVM_TRY(nl::ifindex_of(b.sock_.get(), iface.name).context(ctx));
      // A killed shim's qdisc (and redirect to a tap gone since) goes first.
      RUNVM_CHECK(remove_ingress(b.sock_.get(), ifindex).context(ctx));
      Tap tap{iface.name, tap_name(i), 0, iface.mac, {}};
      tap.fd = RUNVM_TRY(open_tap(ns.get(), tap.name).context(ctx));
      b.taps_.push_back(std::move(tap));
      b.taps_.back().ifindex =
          RUNVM_TRY(nl::ifindex_of(b.sock_.get(), b.taps_.back().name).context(ctx));
      RUNVM_CHECK(b.join(i, ifindex).context(ctx));
    }
    return b;
  };
  return attach().context("network namespace " + netns_path);
}

Status TapBridge::join(size_t i, int ifindex) {
  const auto& iface = network_.interfaces[i];
  int tap_index = taps_[i].ifindex;
  RUNVM_CHECK(nl::change_link(sock_.get(), tap_index, {.mtu = iface.mtu, .up = true}));
  interface_ifindexes_.push_back(ifindex);
  RUNVM_CHECK(add_ingress(sock_.get(), ifindex));
  RUNVM_CHECK(add_ingress(sock_.get(), tap_index));
  RUNVM_CHECK(add_redirect(sock_.get(), ifindex, tap_index));
  RUNVM_CHECK(add_redirect(sock_.get(), tap_index, ifindex));
  return {};
}

Result<std::optional<TapBridge>> TapBridge::adopt(const std::string& netns_path,
                                                  const std::function<Result<Tap>(int)>& move) {
  UniqueFd ns = RUNVM_TRY(nl::open_netns(netns_path));
  auto adopt = [&]() -> Result<std::optional<TapBridge>> {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) return errno_error("setns");
    TapBridge b;
    b.path_ = netns_path;
    b.sock_ = RUNVM_TRY(nl::connect_route());
    b.network_ = RUNVM_TRY(read_network(b.sock_.get()));
    timeline::mark("adopt_read");
    if (b.network_.interfaces.empty()) return std::optional<TapBridge>();
    if (b.network_.interfaces.size() > 1)
      return make_error(std::to_string(b.network_.interfaces.size()) +
                        " interfaces: a pool unit's VM has one network device");
    RUNVM_CHECK(remove_stale_taps(b.sock_.get(), ns.get()));
    auto& iface = b.network_.interfaces[0];
    auto ctx = "interface " + iface.name;
    int ifindex = RUNVM_TRY(nl::ifindex_of(b.sock_.get(), iface.name).context(ctx));
    // A killed shim's qdisc (and redirect to a tap gone since) goes first.
    RUNVM_CHECK(remove_ingress(b.sock_.get(), ifindex).context(ctx));
    timeline::mark("adopt_cleaned");
    Tap tap = RUNVM_TRY(move(ns.get()).context(ctx));
    timeline::mark("adopt_moved");
    // The guest's device has the tap's MAC until it takes the interface's.
    iface.device_mac = tap.mac;
    tap.interface = iface.name;
    tap.mac = iface.mac;
    b.taps_.push_back(std::move(tap));
    // Its index in this namespace (a move may give it another one).
    b.taps_.back().ifindex =
        RUNVM_TRY(nl::ifindex_of(b.sock_.get(), b.taps_.back().name).context(ctx));
    RUNVM_CHECK(b.join(0, ifindex).context(ctx));
    return std::optional<TapBridge>(std::move(b));
  };
  return adopt().context("network namespace " + netns_path);
}

}  // namespace runvm::net
