// Open MPI 4 (ORTE) and Open MPI 5 (PRRTE) spellings of the fixed launcher
// options of the reference commands B88 (MPI runner) and B122 (SMDDP runner).
//
// V4 -> V5 decisions, one per reference token, with the sources they rest on.
// Open MPI 5.0.0 bundles PRRTE 3.0.2, 5.0.1/5.0.2 bundle 3.0.3, 5.0.3 bundles
// 3.0.5 (open-mpi/ompi docs/release-notes/changelog/v5.0.x.rst); every V5
// spelling below works from 5.0.0 on. Paths are in github.com/openpmix/prrte
// ("prrte:") and github.com/open-mpi/ompi ("ompi:").
//
//  --allow-run-as-root  -> unchanged.
//      prrte: src/mca/schizo/ompi/schizo-ompi-cli.rstxt ("Specific options").
//  --display-map        -> --display map.
//      prrte: src/mca/schizo/ompi/schizo_ompi.c convert_deprecated_cli
//      ("--display-map -> --display map", kept only as a deprecated alias);
//      src/util/prte_cmd_line.h PRTE_CLI_MAP "map".
//  --tag-output         -> --output tag.
//      prrte: schizo_ompi.c convert_deprecated_cli ("--tag-output -> --output
//      tag"); prte_cmd_line.h PRTE_CLI_TAG "tag".
//  --oversubscribe      -> --map-by :oversubscribe (the SMDDP shape sets no
//      mapping policy, so only the qualifier is given). prrte: schizo_ompi.c ("--oversubscribe -> --map-by
//      :OVERSUBSCRIBE"); prte_cmd_line.h PRTE_CLI_OVERSUB "oversubscribe";
//      ompi: docs/man-openmpi/man1/mpirun.1.rst ("Alias for --map-by
//      :oversubscribe").
//  -mca X V             -> --mca X V for Open MPI's own frameworks (btl, pml,
//      smsc). 5.x still rewrites single-dash long options silently (prrte:
//      schizo_ompi.c parse_cli "Convert single dashes to multi-dashes";
//      schizo_ompi_component.c warn_deprecations = false), but --mca is the
//      documented form (schizo-ompi-cli.rstxt). btl/pml/smsc are listed in
//      schizo_ompi.c ompi_frameworks, so they still reach the ranks as
//      OMPI_MCA_*.
//  -mca btl_tcp_if_include IF -> --mca btl_tcp_if_include IF (OPAL btl/tcp,
//      unchanged).
//  -mca oob_tcp_if_include IF -> --prtemca oob_tcp_if_include IF. The
//      out-of-band channel belongs to PRRTE in 5.x (prrte: src/mca/oob/tcp/
//      oob_tcp_component.c registers if_include); a generic --mca oob_* is
//      only re-routed by prte_schizo_base_parse_prte (src/mca/schizo/base/
//      schizo_base_stubs.c); --prtemca says what is meant.
//  -mca plm_rsh_no_tree_spawn 1 -> --prtemca plm_ssh_no_tree_spawn 1. PRRTE
//      renamed the rsh launcher to ssh (openpmix/prrte PR #780, 2021); prrte:
//      src/mca/plm/ssh/plm_ssh_component.c registers no_tree_spawn. The
//      automatic plm_rsh_* -> plm_ssh_* translation only arrived in PRRTE
//      3.0.3 (PR #1850, docs/news/news-v3.0.rst "Correctly translate the
//      plm_rsh MCA params"), i.e. not in Open MPI 5.0.0; prrte issue #1611
//      shows the old name silently doing nothing.
//  -bind-to none        -> --bind-to none;  -map-by slot -> --map-by slot.
//      prrte: schizo_ompi.c ompioptions (PRTE_CLI_BINDTO, PRTE_CLI_MAPBY);
//      ompi: mpirun.1.rst (--bind-to none, --map-by slot).
//  -mca pml ob1         -> --mca pml ob1 (ob1 still exists; 5.0 only
//      requires a single PML, ompi changelog v5.0.x.rst).
//  -mca btl ^openib     -> dropped. The openib BTL is gone in 5.0 (ompi:
//      docs/tuning-apps/networking/ib-and-roce.rst "no longer includes the
//      openib BTL"), and excluding a component that does not exist does
//      nothing (the MCA base checks only include lists: component_find_check
//      runs in include mode only, mca_base_component_find.c).
//  -mca orte_abort_on_non_zero_status 1 -> dropped. ORTE is gone (ompi
//      changelog v5.0.x.rst) and aborting the job when a rank exits non-zero
//      is PRRTE's default: prrte: src/mca/state/base/state_base_frame.c
//      (prte_state_base.error_non_zero_exit = true, applied to every job that
//      does not say otherwise); ompi: mpirun.1.rst ("By default, the job will
//      abort when any process terminates with non-zero status"). It was the
//      default in 4.x as well (ompi issue #6398; `ompi_info --param all all
//      --level 9` on 4.1.4: orte_abort_on_non_zero_status current value
//      "true", data source: default). The explicit 5.x switch changed
//      spelling between PRRTE releases (--runtime-options
//      abort-nonzero-status, later error-nonzero-status, prte_cmd_line.h), so
//      naming it would break on some 5.0.x; the default does not.
//  -mca btl_vader_single_copy_mechanism none -> --mca smsc ^cma,knem,xpmem.
//      vader was renamed sm and vader_* parameters are aliases (ompi:
//      docs/tuning-apps/networking/shared-memory.rst), but the single-copy
//      mechanisms left the BTL for the opal "smsc" framework (ompi PR #9154,
//      in v5.0.x via PR #9733): opal/mca/btl/sm/btl_sm_component.c of 5.0
//      registers no single_copy_mechanism and uses single copy only when
//      mca_smsc != NULL; opal/mca/smsc/base/smsc_base_frame.c selects none
//      when every component is excluded, leaving copy-in/copy-out -- what
//      "none" meant (the reference used it because CMA fails in containers).
//  -mca plm_rsh_num_concurrent N -> --prtemca plm_ssh_num_concurrent N.
//      prrte: plm_ssh_component.c registers num_concurrent.
//  remote daemon        orted -> prted (schizo-ompi-cli.rstxt: --launch-agent
//      "default: prted").
#include "plan/openmpi_dialect.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace smlaunch::mpi {
namespace {

/// Appends `tokens` to `argv` in order.
void append(std::vector<std::string>& argv, std::initializer_list<std::string_view> tokens) {
  for (const std::string_view token : tokens) {
    argv.emplace_back(token);
  }
}

/// Appends the Open MPI 4 tokens, byte for byte and in the reference order
/// (B88 for the MPI shape, B122 for the SMDDP shape).
void append_v4(std::vector<std::string>& argv, const DialectOptions& o) {
  const bool mpi = o.shape == CommandShape::Mpi;
  const std::string_view iface = o.interface_name;
  append(argv, {"--allow-run-as-root"});
  if (mpi) {
    append(argv, {"--display-map"});
  }
  append(argv, {"--tag-output"});
  if (!mpi) {
    append(argv, {"--oversubscribe"});
  }
  append(argv, {"-mca", "btl_tcp_if_include", iface, "-mca", "oob_tcp_if_include", iface,
                "-mca", "plm_rsh_no_tree_spawn", "1"});
  if (mpi) {
    append(argv, {"-bind-to", "none", "-map-by", "slot"});
  }
  append(argv, {"-mca", "pml", "ob1", "-mca", "btl", "^openib", "-mca",
                "orte_abort_on_non_zero_status", "1", "-mca", "btl_vader_single_copy_mechanism",
                "none"});
  if (o.rsh_num_concurrent) {
    argv.emplace_back("-mca");
    argv.emplace_back("plm_rsh_num_concurrent");
    argv.push_back(std::to_string(*o.rsh_num_concurrent));
  }
}

/// Appends the Open MPI 5.0.x equivalents in the same order (see the
/// decisions at the top of this file).
void append_v5(std::vector<std::string>& argv, const DialectOptions& o) {
  const bool mpi = o.shape == CommandShape::Mpi;
  const std::string_view iface = o.interface_name;
  append(argv, {"--allow-run-as-root"});
  if (mpi) {
    append(argv, {"--display", "map"});
  }
  append(argv, {"--output", "tag"});
  if (!mpi) {
    append(argv, {"--map-by", ":oversubscribe"});
  }
  append(argv, {"--mca", "btl_tcp_if_include", iface, "--prtemca", "oob_tcp_if_include", iface,
                "--prtemca", "plm_ssh_no_tree_spawn", "1"});
  if (mpi) {
    append(argv, {"--bind-to", "none", "--map-by", "slot"});
  }
  append(argv, {"--mca", "pml", "ob1", "--mca", "smsc", "^cma,knem,xpmem"});
  if (o.rsh_num_concurrent) {
    argv.emplace_back("--prtemca");
    argv.emplace_back("plm_ssh_num_concurrent");
    argv.push_back(std::to_string(*o.rsh_num_concurrent));
  }
}

}  // namespace

void append_launch_options(std::vector<std::string>& argv, OpenMpiVersion version,
                           const DialectOptions& options) {
  if (version == OpenMpiVersion::V5) {
    append_v5(argv, options);
  } else {
    append_v4(argv, options);
  }
}

std::string_view daemon_name(OpenMpiVersion version) {
  return version == OpenMpiVersion::V5 ? "prted" : "orted";
}

}  // namespace smlaunch::mpi
