#include "shim/net/pool_nic.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/random.h>

#include <cstring>

namespace runvm::net {

Result<PoolNic> PoolNic::open() {
  PoolNic n;
  std::string name = TapBridge::tap_name(0);
  // As attach()'s taps: the virtio-net header, so QEMU can hand offloads to it.
  n.fd_.reset(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!n.fd_) return errno_error("open /dev/net/tun");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(n.fd_.get(), TUNSETIFF, &ifr) != 0) return errno_error("TUNSETIFF " + name);
  if (getrandom(n.mac_.data(), n.mac_.size(), 0) != static_cast<ssize_t>(n.mac_.size()))
    return errno_error("getrandom");
  n.mac_[0] = static_cast<uint8_t>((n.mac_[0] & 0xfc) | 0x02);  // unicast, locally administered
  n.home_ = RUNVM_TRY(nl::connect_route());
  n.ifindex_ = RUNVM_TRY(nl::ifindex_of(n.home_.get(), name));
  return n;
}

TapDevice PoolNic::device() const { return {fd_.get(), proto::mac_to_string(mac_)}; }

Result<std::optional<TapBridge>> PoolNic::claim(const std::string& netns_path) {
  return TapBridge::adopt(netns_path, [&](int netns_fd) -> Result<Tap> {
    if (!fd_) return make_error("the pool unit's tap was claimed already");
    RUNVM_CHECK(nl::change_link(home_.get(), ifindex_, {.netns_fd = netns_fd})
                    .context("moving the pool unit's tap"));
    Tap tap{"", TapBridge::tap_name(0), 0, mac_, std::move(fd_)};
    home_.reset();
    return tap;
  });
}

}  // namespace runvm::net
