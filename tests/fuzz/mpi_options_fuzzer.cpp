// Fuzzes the custom mpirun options (parse_custom_options) and the Open MPI
// version probe (parse_mpirun_version). Properties:
//  * accepted options contain no NUL byte and no refused option;
//  * quoting every accepted word again (plan::shell_quote) and parsing the
//    result gives the same words and the same --NCCL_DEBUG value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "smlaunch/mpi_options.hpp"
#include "smlaunch/plan.hpp"

namespace {

[[noreturn]] void fail(const char* what, std::string_view a, std::string_view b = {}) {
  std::fprintf(stderr, "mpi options fuzzer: %s\n  first:  %.*s\n  second: %.*s\n", what,
               static_cast<int>(a.size()), a.data(), static_cast<int>(b.size()), b.data());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace mpi = smlaunch::mpi;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): libFuzzer's bytes as text
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mpi::parse_mpirun_version(text);

  auto parsed = mpi::parse_custom_options(text);
  if (const auto* error = std::get_if<mpi::OptionsError>(&parsed)) {
    if (error->message.empty() || error->message.find('\n') != std::string::npos) {
      fail("an error message must be one non-empty line", text, error->message);
    }
    return 0;
  }
  const auto& options = std::get<mpi::CustomOptions>(parsed);
  // --NCCL_DEBUG goes first: placed after the words it would become the
  // operand of a trailing option (`-mca NAME`), which changes its meaning.
  std::string requoted;
  if (options.nccl_debug) {
    if (options.nccl_debug->empty()) fail("--NCCL_DEBUG with an empty value was accepted", text);
    requoted += "--NCCL_DEBUG=" + smlaunch::plan::shell_quote(*options.nccl_debug) + " ";
  }
  for (const auto& word : options.passthrough) {
    if (word.find('\0') != std::string::npos) fail("a NUL byte reached the options", text, word);
    if (word == "--" || word == "-h" || word == "-H" || word == "--help" || word == "-host") {
      fail("a refused option was passed through", text, word);
    }
    requoted += smlaunch::plan::shell_quote(word) + " ";
  }
  auto again = mpi::parse_custom_options(requoted);
  const auto* reparsed = std::get_if<mpi::CustomOptions>(&again);
  if (reparsed == nullptr) fail("the re-quoted options are refused", text, requoted);
  if (reparsed->passthrough != options.passthrough || reparsed->nccl_debug != options.nccl_debug) {
    fail("the re-quoted options parse differently", text, requoted);
  }
  return 0;
}
