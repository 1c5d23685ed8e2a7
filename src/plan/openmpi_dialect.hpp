// The fixed launcher options of the mpirun command, spelled for the Open MPI
// that is installed: Open MPI 4 (ORTE) takes the reference's tokens byte for
// byte; Open MPI 5 (PRRTE) renamed or removed several of them. The sources of
// every V4 -> V5 decision are cited at the top of openmpi_dialect.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smlaunch/mpi_options.hpp"

namespace smlaunch::mpi {

/// Which reference command the fixed part belongs to.
enum class CommandShape {
  Mpi,    // B88: --display-map, -bind-to none -map-by slot
  Smddp,  // B122: --oversubscribe, no binding or mapping options
};

/// What the fixed part of the command needs.
struct DialectOptions {
  std::string interface_name{};  // for btl_tcp_if_include and oob_tcp_if_include
  CommandShape shape = CommandShape::Mpi;
  /// How many remote daemons are started at once (B122 passes the host
  /// count as plm_rsh_num_concurrent); nothing is emitted when nullopt.
  std::optional<int> rsh_num_concurrent = std::nullopt;
};

/// Appends the launcher tokens that follow `--host H -np N` and precede the
/// first `-x`: for V4 exactly the reference tokens in the reference order
/// (B88 for CommandShape::Mpi, B122 for CommandShape::Smddp; the
/// plm_rsh_num_concurrent pair comes last), for V5 their Open MPI
/// 5.0.x equivalents in the same order, with the tokens that 5.0 no longer
/// has (and needs no replacement for) left out. Never fails.
void append_launch_options(std::vector<std::string>& argv, OpenMpiVersion version,
                           const DialectOptions& options);

/// The name of the daemon mpirun starts on each remote host: "orted" for V4,
/// "prted" for V5 (what the remote-side process supervision looks for).
[[nodiscard]] std::string_view daemon_name(OpenMpiVersion version);

}  // namespace smlaunch::mpi
