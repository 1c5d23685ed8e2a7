// The smlaunch command line (DESIGN.md "Command line"). The binary's main()
// is one call to this.
#pragma once

namespace smlaunch::cli {

/// Parses argv, runs the subcommand, returns the process exit code. Never
/// throws.
int main(int argc, char** argv);

}  // namespace smlaunch::cli
