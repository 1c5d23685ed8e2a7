// smlaunch_mpi_allreduce: a small MPI job that the tests run in place of a
// user's training program, under mpirun (one host or several).
//
// Every rank sums the ranks with MPI_Allreduce and prints
//
//   rank R of N on HOST sum=S
//
// (HOST from gethostname(), so the LD_PRELOAD hostname shim shows through),
// flushes, and exits 0. Switches, as `--name value` or `--name=value`; any
// other argument (hyperparameters a test passes along) is ignored:
//
//   --expect-size N     fail (exit 2, through MPI_Abort) when the world size is not N
//   --exit-rank R       with --exit-code C: rank R exits with C after the
//   --exit-code C         allreduce and a barrier, without MPI_Finalize
//   --sleep SECONDS     sleep before the allreduce (fault-injection tests)
//   --argv-file PATH    write argv (argv[0] included) as a JSON array to PATH.<rank>
//
// A failing rank: after the barrier every rank has printed its line. Rank R
// then exits with C; the others sleep kSurvivorPause and finalize. A process
// that exits without MPI_Finalize makes mpirun tear the job down and exit
// non-zero, whether the others are still sleeping or already in finalize,
// so the job fails the same way every time.
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr int kUsageExitCode = 2;
constexpr auto kSurvivorPause = std::chrono::milliseconds(500);

struct Options {
  std::optional<long> expect_size;
  std::optional<long> exit_rank;
  int exit_code = 1;
  double sleep_seconds = 0;
  std::string argv_file;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "smlaunch_mpi_allreduce: error: %s\n", message.c_str());
  std::exit(kUsageExitCode);
}

long parse_long(const std::string& option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0)
    usage_error(option + ": expected an integer, got '" + text + "'");
  return value;
}

double parse_seconds(const std::string& option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !(value >= 0)) {
    usage_error(option + ": expected a number of seconds, got '" + text + "'");
  }
  return value;
}

Options parse(const std::vector<std::string>& args) {
  Options options;
  bool exit_code_given = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const bool known = name == "--expect-size" || name == "--exit-rank" || name == "--exit-code" ||
                       name == "--sleep" || name == "--argv-file";
    if (!known) continue;  // someone else's argument (a hyperparameter)
    if (!value) {
      if (i + 1 >= args.size()) usage_error(name + ": missing value");
      value = args[++i];
    }
    if (name == "--expect-size") {
      options.expect_size = parse_long(name, *value);
    } else if (name == "--exit-rank") {
      options.exit_rank = parse_long(name, *value);
    } else if (name == "--exit-code") {
      const long code = parse_long(name, *value);
      if (code < 0 || code > 255) usage_error(name + ": expected 0 to 255, got " + *value);
      options.exit_code = static_cast<int>(code);
      exit_code_given = true;
    } else if (name == "--sleep") {
      options.sleep_seconds = parse_seconds(name, *value);
    } else {
      options.argv_file = *value;
    }
  }
  if (options.exit_rank.has_value() != exit_code_given)
    usage_error("--exit-rank and --exit-code go together");
  return options;
}

// `text` as a JSON string; bytes from 0x80 up are copied as they are.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void write_argv(const std::string& path, const std::vector<std::string>& args) {
  std::string json = "[";
  for (std::size_t i = 0; i < args.size(); ++i) json += (i == 0 ? "" : ", ") + json_string(args[i]);
  json += "]\n";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) usage_error("--argv-file: cannot write " + path);
  const bool written = std::fwrite(json.data(), 1, json.size(), file) == json.size();
  if (std::fclose(file) != 0 || !written) usage_error("--argv-file: cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv, argv + argc);
  const Options options = parse(args);

  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  if (options.expect_size && *options.expect_size != size) {
    std::fprintf(stderr, "smlaunch_mpi_allreduce: error: rank %d: expected a world size of %ld, got %d\n",
                 rank, *options.expect_size, size);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, kUsageExitCode);
  }
  if (!options.argv_file.empty()) write_argv(options.argv_file + "." + std::to_string(rank), args);
  if (options.sleep_seconds > 0)
    std::this_thread::sleep_for(std::chrono::duration<double>(options.sleep_seconds));

  int sum = 0;
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host) != 0) std::snprintf(host, sizeof host, "?");
  std::printf("rank %d of %d on %s sum=%d\n", rank, size, host, sum);
  std::fflush(stdout);

  if (options.exit_rank) {
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == *options.exit_rank) {
      std::fprintf(stderr, "smlaunch_mpi_allreduce: rank %d exits with code %d as asked\n", rank,
                   options.exit_code);
      std::exit(options.exit_code);
    }
    std::this_thread::sleep_for(kSurvivorPause);
  }
  MPI_Finalize();
  return 0;
}
