// Facts about this machine that `smlaunch doctor` reports: network
// interfaces with their addresses, free space of a file system, and the
// permission bits of a file. Plain values; no exceptions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace smlaunch::platform {

struct InterfaceInfo {
  std::string name;
  bool up = false;                     // IFF_UP
  std::vector<std::string> addresses;  // numeric IPv4 and IPv6 addresses, in kernel order
};

/// Every network interface of this network namespace (with or without an
/// address), in kernel order. Empty when they cannot be listed.
[[nodiscard]] std::vector<InterfaceInfo> network_interfaces();

/// The interface called `name`, or nullopt when there is none.
[[nodiscard]] std::optional<InterfaceInfo> network_interface(const std::string& name);

struct SpaceInfo {
  std::uint64_t available_bytes = 0;  // what an unprivileged writer may still use
  std::uint64_t total_bytes = 0;
};

/// The free and total space of the file system holding `path`, or the
/// strerror text when it cannot be asked (no such path, ...).
[[nodiscard]] std::variant<SpaceInfo, std::string> file_system_space(const std::string& path);

/// The permission bits (07777) of `path` (symlinks followed), or nullopt
/// when it cannot be stat'ed.
[[nodiscard]] std::optional<mode_t> permission_bits(const std::string& path);

}  // namespace smlaunch::platform
