#include "platform/host_info.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

namespace smlaunch::platform {
namespace {

struct IfaddrsFree {
  void operator()(ifaddrs* list) const noexcept { ::freeifaddrs(list); }
};
using IfaddrsList = std::unique_ptr<ifaddrs, IfaddrsFree>;

// The numeric form of an IPv4/IPv6 socket address, or nullopt for other families.
std::optional<std::string> numeric_address(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, sa, sizeof sin);
    if (::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text) == nullptr) return std::nullopt;
    return std::string(text);
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, sa, sizeof sin6);
    if (::inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text) == nullptr) return std::nullopt;
    return std::string(text);
  }
  return std::nullopt;
}

}  // namespace

std::vector<InterfaceInfo> network_interfaces() {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) return {};
  const IfaddrsList list(raw);
  std::vector<InterfaceInfo> out;
  // getifaddrs lists an interface once per address (and once as AF_PACKET,
  // with or without addresses): merge by name, keeping the first order.
  for (const ifaddrs* ifa = list.get(); ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == nullptr) continue;
    const std::string name(ifa->ifa_name);
    auto it = std::find_if(out.begin(), out.end(), [&](const InterfaceInfo& i) { return i.name == name; });
    if (it == out.end()) {
      out.push_back(InterfaceInfo{name, false, {}});
      it = std::prev(out.end());
    }
    it->up = it->up || (ifa->ifa_flags & IFF_UP) != 0;
    if (ifa->ifa_addr != nullptr) {
      if (auto address = numeric_address(ifa->ifa_addr)) it->addresses.push_back(std::move(*address));
    }
  }
  return out;
}

std::optional<InterfaceInfo> network_interface(const std::string& name) {
  for (auto& i : network_interfaces()) {
    if (i.name == name) return std::move(i);
  }
  return std::nullopt;
}

std::variant<SpaceInfo, std::string> file_system_space(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return std::generic_category().message(errno);
  const auto unit = static_cast<std::uint64_t>(st.f_frsize != 0 ? st.f_frsize : st.f_bsize);
  return SpaceInfo{static_cast<std::uint64_t>(st.f_bavail) * unit,
                   static_cast<std::uint64_t>(st.f_blocks) * unit};
}

std::optional<mode_t> permission_bits(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return st.st_mode & 07777;
}

}  // namespace smlaunch::platform
