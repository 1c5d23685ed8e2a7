// The fixed launcher options for Open MPI 4 (byte-identical to the reference
// commands B88 and B122) and Open MPI 5.
#include "plan/openmpi_dialect.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace smlaunch::mpi {
namespace {

using Tokens = std::vector<std::string>;

/// The tokens append_launch_options adds to an empty argv.
Tokens launch_options(OpenMpiVersion version, const DialectOptions& options) {
  Tokens argv;
  append_launch_options(argv, version, options);
  return argv;
}

/// B88: the MPI runner's tokens from --allow-run-as-root up to the first -x.
const Tokens kReferenceMpiV4 = {
    "--allow-run-as-root", "--display-map", "--tag-output",
    "-mca", "btl_tcp_if_include", "eth0",
    "-mca", "oob_tcp_if_include", "eth0",
    "-mca", "plm_rsh_no_tree_spawn", "1",
    "-bind-to", "none", "-map-by", "slot",
    "-mca", "pml", "ob1",
    "-mca", "btl", "^openib",
    "-mca", "orte_abort_on_non_zero_status", "1",
    "-mca", "btl_vader_single_copy_mechanism", "none"};

/// B122: the SMDDP runner's tokens from --allow-run-as-root up to the first -x.
const Tokens kReferenceSmddpV4 = {
    "--allow-run-as-root", "--tag-output", "--oversubscribe",
    "-mca", "btl_tcp_if_include", "eth0",
    "-mca", "oob_tcp_if_include", "eth0",
    "-mca", "plm_rsh_no_tree_spawn", "1",
    "-mca", "pml", "ob1",
    "-mca", "btl", "^openib",
    "-mca", "orte_abort_on_non_zero_status", "1",
    "-mca", "btl_vader_single_copy_mechanism", "none",
    "-mca", "plm_rsh_num_concurrent", "2"};

TEST(OpenMpiDialect, V4MpiShapeReproducesReferenceB88) {
  EXPECT_EQ(launch_options(OpenMpiVersion::V4, {.interface_name = "eth0", .shape = CommandShape::Mpi}),
            kReferenceMpiV4);
}

TEST(OpenMpiDialect, V4SmddpShapeReproducesReferenceB122) {
  EXPECT_EQ(launch_options(OpenMpiVersion::V4, {.interface_name = "eth0",
                                                .shape = CommandShape::Smddp,
                                                .rsh_num_concurrent = 2}),
            kReferenceSmddpV4);
}

TEST(OpenMpiDialect, V5MpiShapeUsesPrrteSpellings) {
  const Tokens expected = {
      "--allow-run-as-root", "--display", "map", "--output", "tag",
      "--mca", "btl_tcp_if_include", "eth0",
      "--prtemca", "oob_tcp_if_include", "eth0",
      "--prtemca", "plm_ssh_no_tree_spawn", "1",
      "--bind-to", "none", "--map-by", "slot",
      "--mca", "pml", "ob1",
      "--mca", "smsc", "^cma,knem,xpmem"};
  EXPECT_EQ(launch_options(OpenMpiVersion::V5, {.interface_name = "eth0", .shape = CommandShape::Mpi}),
            expected);
}

TEST(OpenMpiDialect, V5SmddpShapeUsesPrrteSpellings) {
  const Tokens expected = {
      "--allow-run-as-root", "--output", "tag", "--map-by", ":oversubscribe",
      "--mca", "btl_tcp_if_include", "eth0",
      "--prtemca", "oob_tcp_if_include", "eth0",
      "--prtemca", "plm_ssh_no_tree_spawn", "1",
      "--mca", "pml", "ob1",
      "--mca", "smsc", "^cma,knem,xpmem",
      "--prtemca", "plm_ssh_num_concurrent", "2"};
  EXPECT_EQ(launch_options(OpenMpiVersion::V5, {.interface_name = "eth0",
                                                .shape = CommandShape::Smddp,
                                                .rsh_num_concurrent = 2}),
            expected);
}

TEST(OpenMpiDialect, V5DropsEveryTokenOpenMpi5RemovedOrRenamed) {
  for (const CommandShape shape : {CommandShape::Mpi, CommandShape::Smddp}) {
    const Tokens argv = launch_options(OpenMpiVersion::V5,
                                       {.interface_name = "eth0", .shape = shape, .rsh_num_concurrent = 3});
    for (std::string_view gone :
         {"-mca", "--display-map", "--tag-output", "--oversubscribe", "-bind-to", "-map-by",
          "^openib", "orte_abort_on_non_zero_status", "btl_vader_single_copy_mechanism",
          "plm_rsh_no_tree_spawn", "plm_rsh_num_concurrent"}) {
      EXPECT_EQ(std::count(argv.begin(), argv.end(), gone), 0) << gone;
    }
  }
}

TEST(OpenMpiDialect, AppendsAfterExistingTokensWithoutTouchingThem) {
  Tokens argv = {"mpirun", "--host", "algo-1:8,algo-2:8", "-np", "16"};
  append_launch_options(argv, OpenMpiVersion::V4, {.interface_name = "ens5", .shape = CommandShape::Mpi});
  ASSERT_GT(argv.size(), 5U);
  EXPECT_EQ(Tokens(argv.begin(), argv.begin() + 5),
            (Tokens{"mpirun", "--host", "algo-1:8,algo-2:8", "-np", "16"}));
  EXPECT_EQ(argv[5], "--allow-run-as-root");
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "ens5"), 2);
}

TEST(OpenMpiDialect, InterfaceNameIsPassedVerbatimToBothTcpParameters) {
  for (const OpenMpiVersion version : {OpenMpiVersion::V4, OpenMpiVersion::V5}) {
    const Tokens argv =
        launch_options(version, {.interface_name = "eth0,10.0.0.0/8", .shape = CommandShape::Smddp});
    const auto btl = std::find(argv.begin(), argv.end(), "btl_tcp_if_include");
    const auto oob = std::find(argv.begin(), argv.end(), "oob_tcp_if_include");
    ASSERT_NE(btl, argv.end());
    ASSERT_NE(oob, argv.end());
    EXPECT_EQ(*(btl + 1), "eth0,10.0.0.0/8");
    EXPECT_EQ(*(oob + 1), "eth0,10.0.0.0/8");
  }
}

TEST(OpenMpiDialect, NumConcurrentIsOmittedWhenNotGiven) {
  for (const OpenMpiVersion version : {OpenMpiVersion::V4, OpenMpiVersion::V5}) {
    const Tokens argv = launch_options(version, {.interface_name = "eth0", .shape = CommandShape::Smddp});
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "plm_rsh_num_concurrent"), 0);
    EXPECT_EQ(std::count(argv.begin(), argv.end(), "plm_ssh_num_concurrent"), 0);
  }
  Tokens v4_smddp_without = kReferenceSmddpV4;
  v4_smddp_without.resize(v4_smddp_without.size() - 3);
  EXPECT_EQ(launch_options(OpenMpiVersion::V4, {.interface_name = "eth0", .shape = CommandShape::Smddp}),
            v4_smddp_without);
}

TEST(OpenMpiDialect, NumConcurrentIsPrintedInDecimal) {
  const Tokens argv = launch_options(
      OpenMpiVersion::V4, {.interface_name = "eth0", .shape = CommandShape::Smddp, .rsh_num_concurrent = 128});
  EXPECT_EQ(argv.back(), "128");
}

TEST(OpenMpiDialect, DaemonNameFollowsTheRuntime) {
  EXPECT_EQ(daemon_name(OpenMpiVersion::V4), "orted");
  EXPECT_EQ(daemon_name(OpenMpiVersion::V5), "prted");
}

}  // namespace
}  // namespace smlaunch::mpi
