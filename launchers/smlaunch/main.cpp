// smlaunch: the container entrypoint. All of it lives in the library.
#include "smlaunch/cli.hpp"

int main(int argc, char** argv) { return smlaunch::cli::main(argc, argv); }
