// The managed block of /etc/environment on a worker (D13, D39): the job's
// environment made visible to SSH sessions (pam_env reads the file for every
// login, so orted and the ranks it starts see it). Replaced, never appended;
// values quoted for pam_env; only names that are identifiers; no credentials
// or secrets (those reach the ranks through `mpirun -x`).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smlaunch::cluster {

inline constexpr std::string_view kBlockBegin = "# BEGIN smlaunch (managed block: rewritten at every start)";
inline constexpr std::string_view kBlockEnd = "# END smlaunch";

/// The longest line pam_env (Linux-PAM 1.5.2, Debian 12) reads, without its
/// newline. A longer line is not truncated: pam_env stops reading the file
/// there, silently dropping every later line (user lines included).
inline constexpr std::size_t kMaxLineBytes = 8190;

/// Whether `name` may go to /etc/environment: an identifier, and not a
/// credential or secret (AWS_*KEY*, *SECRET*, *TOKEN*, *PASSWORD*,
/// *CREDENTIAL*, AWS_CONTAINER_CREDENTIALS_*, and the project's masking rule
/// for secret names), and not one that must stay per-process (LD_PRELOAD is
/// passed by mpirun -x; PWD, SHLVL, _, the login's HOME/USER/SHELL/...);
/// and `value` can be carried by pam_env (no newline, NUL or '#', and the
/// line fits kMaxLineBytes).
[[nodiscard]] bool exportable(std::string_view name, std::string_view value);

/// `NAME="value"` lines for pam_env for the exportable variables, in name
/// order. Values pam_env cannot carry (a newline, a NUL, a '#', a line over
/// kMaxLineBytes) are left out, and their names are returned in `skipped`
/// when given. When a hyperparameter has a secret name, SM_HPS,
/// SM_TRAINING_ENV and SM_USER_ARGS (which repeat every hyperparameter
/// value) are left out too; so are SM_FRAMEWORK_PARAMS and SM_TRAINING_ENV
/// when custom mpirun options in them set a secret-named variable (`-x
/// DB_PASSWORD=...`), and every variable whose value contains the value (of
/// 8 bytes or more) of a secret-named variable or option (none of these is
/// reported in `skipped`).
[[nodiscard]] std::string render_block(const std::map<std::string, std::string>& variables,
                                       std::vector<std::string>* skipped = nullptr);

/// `existing` with its managed block (if any) replaced by `block` (which is
/// wrapped in the markers), the rest of the file kept byte for byte. With no
/// block yet, it is appended (after a newline if the text lacks a final
/// one); a second old block is dropped; one without its end marker runs to
/// the end of the text.
[[nodiscard]] std::string replace_block(std::string_view existing, std::string_view block);

/// Rewrites `path` (normally /etc/environment) with the block for
/// `variables`, atomically (temporary file + rename), mode 0644. Returns an
/// error message, or nullopt on success; `skipped` as for render_block.
[[nodiscard]] std::optional<std::string> write_managed_block(
    const std::string& path, const std::map<std::string, std::string>& variables,
    std::vector<std::string>* skipped = nullptr);

}  // namespace smlaunch::cluster
