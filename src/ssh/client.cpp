// The SSH client over libssh 0.10: a handshake probe and an authenticated
// session that runs one command at a time, every step under a deadline.
//
// Deadlines. libssh bounds ssh_connect() (TCP connect, banner and key
// exchange together) and its other blocking calls by the session's
// SSH_OPTIONS_TIMEOUT(_USEC), but not the name lookup before them:
// getaddrinfo has no timeout, and a dead nameserver blocks it for
// resolv.conf's timeout x attempts x servers. So we look names up ourselves
// and hand libssh a numeric address:
//  - a name (not a numeric address) is looked up by net::resolve(), which
//    waits for it with the deadline; a stuck lookup is abandoned, never
//    joined, and at most one per name is in flight (see net/reach.cpp), so
//    retries against a dead resolver do not pile up threads;
//  - libssh's connect is non-blocking and polled under the session timeout,
//    so a host that never answers (no RST, a dropped SYN) costs exactly the
//    timeout; once connected, the socket gets a send timeout (libssh makes it
//    blocking) so a peer that stops reading cannot hold a write for ever;
//  - before every blocking libssh step (authentication, opening a channel,
//    waiting for the exit status) the session timeout is set to what is left
//    of the caller's deadline.
// A failed ssh_connect() is classified by whether the TCP connection was up
// (getpeername on libssh's socket): a timeout before it is "no answer"
// (kConnect), after it "no SSH handshake" (kHandshake).
//
// Commands are driven by a loop that writes stdin only as far as the channel
// window allows, drains stdout/stderr without blocking, and otherwise waits
// for packets (ssh_event_dopoll) for at most the time left, so a command that
// neither reads its input nor exits cannot hold us past the deadline, and a
// command writing lots of output while we feed it input cannot deadlock with
// us.
//
// Why libssh makes its own socket: libssh 0.10 treats a descriptor given with
// SSH_OPTIONS_FD inconsistently (ssh_disconnect() leaves it open, a socket
// error closes it), so neither "libssh closes it" nor "we close it" is safe;
// a socket libssh created itself it always closes exactly once.
//
// Threads. libssh 0.10 initialises itself (pthread locking, the crypto
// library) from a library constructor when it is loaded dynamically, and
// needs ssh_init() before any other call when linked statically. We open it
// (dlopen, see Libssh below) and call ssh_init() once (std::call_once) before
// the first session: it is reference-counted, so this also keeps another
// component's ssh_finalize() from tearing libssh down under our threads.
// We never call ssh_finalize():
// sessions may be open in other threads until the process exits. Different
// sessions may then be used from different threads; one session (and its
// channels) only from one thread at a time, as the header says.
//
// Host keys are not verified (see client.hpp): known_hosts is /dev/null,
// StrictHostKeyChecking is off, ssh_session_is_known_server() is never
// called, and ~/.ssh/config is not read (SSH_OPTIONS_PROCESS_CONFIG false).
#include "ssh/client.hpp"

#include <fmt/format.h>
#include <libssh/libssh.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <random>
#include <system_error>
#include <utility>

#include "net/reach.hpp"
#include "platform/shared_library.hpp"
#include "smlaunch/plan.hpp"
#include "ssh/text.hpp"

namespace smlaunch::ssh {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using text::duration_text;
using text::one_line;

/// What exec() keeps of a command's stdout and stderr together.
constexpr std::size_t kMaxOutputBytes = std::size_t{64} * 1024;
/// The most we hand ssh_channel_write at once (it is also bounded by the
/// channel window, so it never waits for one).
constexpr std::uint32_t kWriteChunkBytes = 32 * 1024;
constexpr std::size_t kReadChunkBytes = std::size_t{16} * 1024;
/// How much of a failed command's output an error message quotes.
constexpr std::size_t kQuotedOutputBytes = 300;
/// How long closing a channel or a session may wait for the socket.
constexpr milliseconds kCloseTimeout{1'000};
/// A blocking send() on the session socket fails after this long (the peer
/// stopped reading: a full TCP window). libssh makes its socket blocking once
/// connected, so this bounds its writes the way its timeout bounds its reads.
constexpr std::chrono::seconds kSocketSendTimeout{10};
/// A timeout of zero means "the default (10 s)" to libssh: the least we set.
constexpr milliseconds kLeastLibsshTimeout{1};
constexpr int kMaxPort = 65535;
/// RFC 4253 4.2: a version line is at most 255 bytes with its CR LF.
constexpr std::size_t kMaxBannerBytes = 255;

// ---- small helpers --------------------------------------------------------

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

std::string where(const Endpoint& endpoint) {
  return fmt::format("{}:{}", endpoint.host, endpoint.port);
}

Failure failure(FailureKind kind, const Endpoint& endpoint, std::string_view what) {
  return Failure{kind, fmt::format("{}: {}", where(endpoint), what)};
}

milliseconds time_left(Clock::time_point deadline) {
  return std::max(milliseconds{0}, std::chrono::ceil<milliseconds>(deadline - Clock::now()));
}

// ---- libssh, opened on first use -------------------------------------------

/// The libssh functions we call. libssh is opened with dlopen the first time
/// a session is made, not linked: with it come libcrypto and Kerberos, and
/// its constructor initialises OpenSSL, about 2.5 MiB of resident pages and
/// a millisecond at the start of every smlaunch process, while only the SSH
/// steps of a multi-host job use it (`plan`, `env` and single-host jobs never
/// do). It stays open until the process exits (sessions may live that long).
/// The declarations, and so the types, are libssh's own headers'.
struct Libssh {
  decltype(&::ssh_channel_free) channel_free = nullptr;
  decltype(&::ssh_channel_get_exit_status) channel_get_exit_status = nullptr;
  decltype(&::ssh_channel_is_closed) channel_is_closed = nullptr;
  decltype(&::ssh_channel_is_eof) channel_is_eof = nullptr;
  decltype(&::ssh_channel_new) channel_new = nullptr;
  decltype(&::ssh_channel_open_session) channel_open_session = nullptr;
  decltype(&::ssh_channel_read_nonblocking) channel_read_nonblocking = nullptr;
  decltype(&::ssh_channel_request_exec) channel_request_exec = nullptr;
  decltype(&::ssh_channel_send_eof) channel_send_eof = nullptr;
  decltype(&::ssh_channel_window_size) channel_window_size = nullptr;
  decltype(&::ssh_channel_write) channel_write = nullptr;
  decltype(&::ssh_connect) connect = nullptr;
  decltype(&::ssh_disconnect) disconnect = nullptr;
  decltype(&::ssh_event_add_session) event_add_session = nullptr;
  decltype(&::ssh_event_dopoll) event_dopoll = nullptr;
  decltype(&::ssh_event_free) event_free = nullptr;
  decltype(&::ssh_event_new) event_new = nullptr;
  decltype(&::ssh_event_remove_session) event_remove_session = nullptr;
  decltype(&::ssh_free) free = nullptr;
  decltype(&::ssh_get_error) get_error = nullptr;
  decltype(&::ssh_get_fd) get_fd = nullptr;
  decltype(&::ssh_init) init = nullptr;
  decltype(&::ssh_key_free) key_free = nullptr;
  decltype(&::ssh_new) new_session = nullptr;
  decltype(&::ssh_options_set) options_set = nullptr;
  decltype(&::ssh_pki_import_privkey_file) pki_import_privkey_file = nullptr;
  decltype(&::ssh_userauth_publickey) userauth_publickey = nullptr;
  decltype(&::ssh_userauth_publickey_auto) userauth_publickey_auto = nullptr;
};

constexpr const char* kLibsshName = "libssh.so.4";

Libssh loaded_libssh;  // filled once by open_libssh(), read-only afterwards

/// Opens and initialises libssh once per process (see the top of the file).
/// nullopt when it worked, else why not (the same answer every time).
const std::optional<std::string>& open_libssh() {
  static std::once_flag once;
  static std::optional<std::string> why;
  std::call_once(once, [] {
    auto opened = platform::SharedLibrary::open(kLibsshName, "libssh-4");
    if (auto* error = std::get_if<std::string>(&opened)) {
      why = std::move(*error);
      return;
    }
    auto& library = std::get<platform::SharedLibrary>(opened);
    Libssh lib;
    const auto bind = [&library](const char* name, auto& function) { library.bind(name, function); };
    bind("ssh_channel_free", lib.channel_free);
    bind("ssh_channel_get_exit_status", lib.channel_get_exit_status);
    bind("ssh_channel_is_closed", lib.channel_is_closed);
    bind("ssh_channel_is_eof", lib.channel_is_eof);
    bind("ssh_channel_new", lib.channel_new);
    bind("ssh_channel_open_session", lib.channel_open_session);
    bind("ssh_channel_read_nonblocking", lib.channel_read_nonblocking);
    bind("ssh_channel_request_exec", lib.channel_request_exec);
    bind("ssh_channel_send_eof", lib.channel_send_eof);
    bind("ssh_channel_window_size", lib.channel_window_size);
    bind("ssh_channel_write", lib.channel_write);
    bind("ssh_connect", lib.connect);
    bind("ssh_disconnect", lib.disconnect);
    bind("ssh_event_add_session", lib.event_add_session);
    bind("ssh_event_dopoll", lib.event_dopoll);
    bind("ssh_event_free", lib.event_free);
    bind("ssh_event_new", lib.event_new);
    bind("ssh_event_remove_session", lib.event_remove_session);
    bind("ssh_free", lib.free);
    bind("ssh_get_error", lib.get_error);
    bind("ssh_get_fd", lib.get_fd);
    bind("ssh_init", lib.init);
    bind("ssh_key_free", lib.key_free);
    bind("ssh_new", lib.new_session);
    bind("ssh_options_set", lib.options_set);
    bind("ssh_pki_import_privkey_file", lib.pki_import_privkey_file);
    bind("ssh_userauth_publickey", lib.userauth_publickey);
    bind("ssh_userauth_publickey_auto", lib.userauth_publickey_auto);
    if (auto missing = library.missing()) {
      why = std::move(*missing);
    } else if (lib.init() != SSH_OK) {
      why = "libssh could not be initialised (its crypto library failed)";
    } else {
      loaded_libssh = lib;
    }
    library.keep_loaded();  // a failed load keeps it too (harmless)
  });
  return why;
}

/// The libssh functions; only after open_libssh() succeeded (every libssh
/// call follows connect_session(), which checks).
const Libssh& lib() {
  return loaded_libssh;
}

// ---- RAII for libssh handles ----------------------------------------------

struct SessionFree {
  void operator()(ssh_session session) const noexcept {
    lib().disconnect(session);  // sends SSH_MSG_DISCONNECT when connected; closes the socket
    lib().free(session);
  }
};
using SessionHandle = std::unique_ptr<ssh_session_struct, SessionFree>;

struct ChannelFree {
  void operator()(ssh_channel channel) const noexcept { lib().channel_free(channel); }
};
using ChannelHandle = std::unique_ptr<ssh_channel_struct, ChannelFree>;

struct KeyFree {
  void operator()(ssh_key key) const noexcept { lib().key_free(key); }
};
using KeyHandle = std::unique_ptr<ssh_key_struct, KeyFree>;

struct EventFree {
  void operator()(ssh_event event) const noexcept { lib().event_free(event); }
};
using EventHandle = std::unique_ptr<ssh_event_struct, EventFree>;

/// The session's libssh error text on one line.
std::string session_error(ssh_session session) {
  return one_line(lib().get_error(session));
}

/// Bounds every following blocking libssh call on `session` by `timeout`.
void set_timeout(ssh_session session, milliseconds timeout) {
  timeout = std::max(timeout, kLeastLibsshTimeout);
  const long seconds = static_cast<long>(timeout.count() / 1000);
  const long usec = static_cast<long>((timeout.count() % 1000) * 1000);
  (void)lib().options_set(session, SSH_OPTIONS_TIMEOUT, &seconds);
  (void)lib().options_set(session, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

/// Waits up to `timeout` for packets on `session` and processes them (into
/// the channels' buffers). Returns SSH_OK, SSH_AGAIN (timed out) or
/// SSH_ERROR. The session is in a poll event only for this call, as in
/// libssh's own (deprecated) ssh_channel_select().
constexpr milliseconds kPacketWaitSlice{50};

int wait_for_packets(ssh_session session, milliseconds timeout) {
  const EventHandle event(lib().event_new());
  if (!event || lib().event_add_session(event.get(), session) != SSH_OK) return SSH_ERROR;
  const int rc =
      lib().event_dopoll(event.get(), static_cast<int>(std::min<long long>(timeout.count(), INT_MAX)));
  (void)lib().event_remove_session(event.get(), session);
  return rc;
}

/// Frees `channel` with closing bounded by kCloseTimeout.
void close_channel(ssh_session session, ChannelHandle& channel) {
  if (!channel) return;
  set_timeout(session, kCloseTimeout);
  channel.reset();
}

// ---- connect errors ----------------------------------------------------------

std::string connect_error_text(int error, milliseconds timeout) {
  switch (error) {
    case ECONNREFUSED:
      return "connection refused";
    case ETIMEDOUT:
      return "no answer within " + duration_text(timeout);
    case EHOSTUNREACH:
      return "host unreachable";
    case ENETUNREACH:
      return "network unreachable";
    default:
      return errno_text(error);
  }
}

/// Why ssh_connect() failed on `session`, as a kConnect (no TCP connection)
/// or kHandshake (connected, but no banner or key exchange) Failure.
Failure connect_failure(ssh_session session, const Endpoint& endpoint, Clock::time_point deadline,
                        milliseconds timeout) {
  const std::string error = session_error(session);
  const socket_t fd = lib().get_fd(session);
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  // sockaddr_storage -> sockaddr is the socket API's own idiom.
  const bool tcp_up =
      fd != SSH_INVALID_SOCKET && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
  if (error.find("Timeout") != std::string::npos || Clock::now() >= deadline) {
    if (tcp_up) {
      return failure(FailureKind::kHandshake, endpoint, "no SSH handshake within " + duration_text(timeout));
    }
    return failure(FailureKind::kConnect, endpoint, connect_error_text(ETIMEDOUT, timeout));
  }
  if (!tcp_up) {
    // libssh reports a failed connect with strerror's text.
    for (const int e : {ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT}) {
      if (error.find(errno_text(e)) != std::string::npos) {
        return failure(FailureKind::kConnect, endpoint, connect_error_text(e, timeout));
      }
    }
  }
  return failure(FailureKind::kHandshake, endpoint, "SSH handshake failed: " + error);
}

// ---- session set-up --------------------------------------------------------

/// Connects to `endpoint` and completes the SSH handshake (banner + key
/// exchange) by `deadline`; not authenticated. Only the first address of a
/// name is tried.
std::variant<SessionHandle, Failure> connect_session(const Endpoint& endpoint, const std::string& user,
                                                     Clock::time_point deadline, milliseconds timeout) {
  if (const auto& why = open_libssh()) return failure(FailureKind::kHandshake, endpoint, *why);

  if (endpoint.port <= 0 || endpoint.port > kMaxPort) {
    return failure(FailureKind::kResolve, endpoint, "port out of range");
  }
  auto resolved = net::resolve(endpoint.host, deadline);
  if (const auto* error = std::get_if<net::ResolveError>(&resolved)) {
    if (error->failure == net::ResolveFailure::kTimedOut) {
      return failure(FailureKind::kResolve, endpoint,
                     "name lookup did not finish within " + duration_text(timeout));
    }
    return failure(FailureKind::kResolve, endpoint, error->detail);
  }
  const std::string& address = std::get<std::vector<std::string>>(resolved).front();

  SessionHandle session(lib().new_session());
  if (!session) {
    return failure(FailureKind::kHandshake, endpoint, "cannot create an SSH session (out of memory)");
  }
  ssh_session s = session.get();
  const bool no = false;
  const int zero = 0;
  const int one = 1;
  const int no_logging = SSH_LOG_NOLOG;
  const unsigned int port = static_cast<unsigned int>(endpoint.port);
  // Each set can only fail for a bad value or no memory.
  const bool options_ok =
      lib().options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) == SSH_OK &&  // before anything else
      lib().options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &no_logging) == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_HOST, address.c_str()) == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_PORT, &port) == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_USER, user.c_str()) == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &zero) == SSH_OK &&
      lib().options_set(s, SSH_OPTIONS_NODELAY, &one) == SSH_OK;  // small request/response exchanges
  if (!options_ok) {
    return failure(FailureKind::kHandshake, endpoint, "cannot set SSH options: " + session_error(s));
  }
  set_timeout(s, time_left(deadline));
  if (lib().connect(s) != SSH_OK) return connect_failure(s, endpoint, deadline, timeout);

  // libssh uses the socket in blocking mode from here: bound its writes.
  const timeval send_timeout{static_cast<time_t>(kSocketSendTimeout.count()), 0};
  (void)::setsockopt(lib().get_fd(s), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  return session;
}

/// The private key files libssh tries by default for this process's user
/// (those that exist), for messages.
std::vector<std::string> default_identity_files() {
  std::string home;
  std::array<char, 4096> buffer{};
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr) {
    home = found->pw_dir;
  }
  std::vector<std::string> files;
  for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"}) {
    std::string path = home + "/.ssh/" + name;
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) files.push_back(std::move(path));
  }
  return files;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

/// Public key authentication on a handshaken session.
std::optional<Failure> authenticate(ssh_session session, const Endpoint& endpoint,
                                    const SessionOptions& options, Clock::time_point deadline,
                                    milliseconds timeout) {
  set_timeout(session, time_left(deadline));
  auto transient = [&](std::string_view what) -> Failure {
    if (Clock::now() >= deadline) {
      return failure(FailureKind::kHandshake, endpoint,
                     "authentication did not finish within " + duration_text(timeout));
    }
    return failure(FailureKind::kHandshake, endpoint, fmt::format("{}: {}", what, session_error(session)));
  };

  std::vector<std::string> tried;
  std::vector<std::string> unusable;
  if (options.identity_files.empty()) {
    const int rc = lib().userauth_publickey_auto(session, nullptr, nullptr);
    if (rc == SSH_AUTH_SUCCESS) return std::nullopt;
    if (rc == SSH_AUTH_ERROR || rc == SSH_AUTH_AGAIN) return transient("authentication failed");
    tried = default_identity_files();
    if (const char* agent = std::getenv("SSH_AUTH_SOCK"); agent != nullptr && *agent != '\0') {
      tried.emplace_back("the agent");
    }
  } else {
    for (const std::string& file : options.identity_files) {
      ssh_key raw_key = nullptr;
      if (lib().pki_import_privkey_file(file.c_str(), nullptr, nullptr, nullptr, &raw_key) != SSH_OK) {
        unusable.push_back(file);
        continue;
      }
      const KeyHandle key(raw_key);
      tried.push_back(file);
      const int rc = lib().userauth_publickey(session, nullptr, key.get());
      if (rc == SSH_AUTH_SUCCESS) return std::nullopt;
      if (rc == SSH_AUTH_ERROR || rc == SSH_AUTH_AGAIN) return transient("authentication failed");
      // SSH_AUTH_DENIED or SSH_AUTH_PARTIAL (another method would be needed): next key
    }
  }

  std::string what = fmt::format("public key refused for {}", options.user);
  if (!tried.empty()) what += " (tried " + join(tried, ", ") + ")";
  if (tried.empty() && unusable.empty()) {
    what += " (no key: none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa, no agent)";
  }
  if (!unusable.empty()) what += "; cannot read private key " + join(unusable, ", ");
  return failure(FailureKind::kAuthDenied, endpoint, what);
}

/// 12 hex digits for temporary file names.
std::string random_suffix() {
  std::random_device device;
  const std::uint64_t bits = (std::uint64_t{device()} << 32) ^ device() ^
                             static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  return fmt::format("{:012x}", bits & 0xffff'ffff'ffffULL);
}

}  // namespace

// ---- public API -------------------------------------------------------------

std::optional<Failure> handshake(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto connected = connect_session(endpoint, "root", deadline, timeout);
  if (auto* f = std::get_if<Failure>(&connected)) return std::move(*f);
  // The session disconnects here: no authentication attempted.
  return std::nullopt;
}

std::optional<Failure> banner(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  if (endpoint.port <= 0 || endpoint.port > kMaxPort) {
    return failure(FailureKind::kResolve, endpoint, "port out of range");
  }
  const net::Greeting answer = net::read_first_line(endpoint.host, endpoint.port, timeout, kMaxBannerBytes);
  if (!answer.probe.up()) {
    if (answer.probe.reach == net::Reach::kUnresolved) {
      return failure(FailureKind::kResolve, endpoint, answer.probe.detail);
    }
    if (!answer.connected) return failure(FailureKind::kConnect, endpoint, answer.probe.detail);
    return failure(FailureKind::kHandshake, endpoint, "no SSH banner: " + answer.probe.detail);
  }
  // RFC 4253 4.2: "SSH-protoversion-softwareversion"; 1.99 is a 2.0 server too.
  if (!answer.text.starts_with("SSH-2.0-") && !answer.text.starts_with("SSH-1.99-")) {
    return failure(FailureKind::kHandshake, endpoint,
                   "answered \"" + one_line(answer.text.substr(0, 60)) + "\", not an SSH 2 banner");
  }
  return std::nullopt;
}

struct Session::Impl {
  Endpoint endpoint;
  SessionHandle session;
};

Session::Session(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() {
  if (impl_ && impl_->session) set_timeout(impl_->session.get(), kCloseTimeout);
}

const Endpoint& Session::endpoint() const noexcept {
  return impl_->endpoint;
}

std::variant<Session, Failure> Session::open(const Endpoint& endpoint, const SessionOptions& options) {
  const auto deadline = Clock::now() + options.connect_timeout;
  auto connected = connect_session(endpoint, options.user, deadline, options.connect_timeout);
  if (auto* f = std::get_if<Failure>(&connected)) return std::move(*f);
  SessionHandle session = std::get<SessionHandle>(std::move(connected));
  if (auto f = authenticate(session.get(), endpoint, options, deadline, options.connect_timeout)) return *f;
  return Session(std::make_unique<Impl>(Impl{endpoint, std::move(session)}));
}

std::variant<ExecResult, Failure> Session::exec(const std::string& command, std::string_view input,
                                                std::chrono::milliseconds timeout) {
  const Endpoint& endpoint = impl_->endpoint;
  ssh_session session = impl_->session.get();
  const auto deadline = Clock::now() + timeout;
  const auto timed_out = [&] {
    return failure(FailureKind::kTimeout, endpoint,
                   fmt::format("`{}` did not finish within {}", one_line(command), duration_text(timeout)));
  };
  const auto channel_failure = [&](std::string_view what) {
    if (Clock::now() >= deadline) return timed_out();
    return failure(FailureKind::kChannel, endpoint, fmt::format("{}: {}", what, session_error(session)));
  };

  set_timeout(session, time_left(deadline));
  ChannelHandle channel(lib().channel_new(session));
  if (!channel) return channel_failure("cannot open a channel");
  ssh_channel ch = channel.get();
  if (lib().channel_open_session(ch) != SSH_OK) return channel_failure("cannot open a channel");
  if (lib().channel_request_exec(ch, command.c_str()) != SSH_OK) {
    auto f = channel_failure(fmt::format("cannot run `{}`", one_line(command)));
    close_channel(session, channel);
    return f;
  }

  ExecResult result;
  std::size_t sent = 0;
  bool input_done = false;
  std::vector<char> buffer(kReadChunkBytes);
  bool output_done = false;
  while (!output_done) {
    if (Clock::now() >= deadline) {
      close_channel(session, channel);
      return timed_out();
    }
    set_timeout(session, time_left(deadline));

    // Feed stdin as far as the window allows (so the write never waits), then EOF.
    while (!input_done) {
      if (lib().channel_is_closed(ch) != 0) {
        input_done = true;  // it exited without reading all of it
        break;
      }
      if (sent == input.size()) {
        (void)lib().channel_send_eof(ch);
        input_done = true;
        break;
      }
      const std::uint32_t window = lib().channel_window_size(ch);
      if (window == 0) break;
      const std::uint32_t size =
          std::min({window, kWriteChunkBytes,
                    static_cast<std::uint32_t>(std::min<std::size_t>(input.size() - sent, UINT32_MAX))});
      const int written = lib().channel_write(ch, input.data() + sent, size);
      if (written < 0) {
        if (lib().channel_is_closed(ch) != 0 || lib().channel_is_eof(ch) != 0) {
          input_done = true;  // the command is gone; what it did not read is dropped
          break;
        }
        auto f = channel_failure("cannot send input");
        close_channel(session, channel);
        return f;
      }
      sent += static_cast<std::size_t>(written);
    }

    // Drain what has arrived on stdout and stderr, keeping up to the cap.
    bool got_any = false;
    for (const int is_stderr : {0, 1}) {
      while (true) {
        const int n = lib().channel_read_nonblocking(ch, buffer.data(),
                                                     static_cast<std::uint32_t>(buffer.size()), is_stderr);
        if (n == SSH_ERROR) {
          auto f = channel_failure("lost the connection");
          close_channel(session, channel);
          return f;
        }
        if (n <= 0) break;  // nothing buffered (0) or end of file (SSH_EOF)
        got_any = true;
        const std::size_t room = kMaxOutputBytes - std::min(kMaxOutputBytes, result.output.size());
        result.output.append(buffer.data(), std::min(room, static_cast<std::size_t>(n)));
      }
    }
    output_done = lib().channel_is_eof(ch) != 0 || lib().channel_is_closed(ch) != 0;
    if (output_done) break;
    if (got_any) continue;

    // Wait for anything from the server (output, end of file, a window
    // adjustment for pending input), at most until the deadline.
    // In slices: libssh may already hold the last packets (end of file,
    // close) in its own buffer, where a poll of the socket cannot see them;
    // the next round's reads process them (seen as a rare hang with 1 MB of
    // output).
    if (wait_for_packets(session, std::min(time_left(deadline), kPacketWaitSlice)) == SSH_ERROR) {
      auto f = channel_failure("lost the connection");
      close_channel(session, channel);
      return f;
    }
    // SSH_OK (something arrived) or SSH_AGAIN (timed out): look again.
  }

  // The output is complete; the exit status comes with it or just after.
  set_timeout(session, time_left(deadline));
  const int status = lib().channel_get_exit_status(ch);
  if (status == SSH_ERROR && Clock::now() >= deadline) {
    close_channel(session, channel);
    return timed_out();
  }
  result.exit_status = status < 0 ? -1 : status;
  close_channel(session, channel);
  return result;
}

std::optional<Failure> Session::write_file(const std::string& path, std::string_view content,
                                           std::chrono::milliseconds timeout) {
  if (!path.starts_with('/')) {
    return failure(FailureKind::kCommand, impl_->endpoint, fmt::format("{}: not an absolute path", path));
  }
  const std::string target = plan::shell_quote(path);
  const std::string temporary = plan::shell_quote(path + ".tmp." + random_suffix());
  // The size check matters when we give up early: closing the channel sends
  // end of file, so cat would finish with part of the content and, without
  // it, that part would be renamed into place. umask may make cat's file
  // narrower: chmod sets exactly 0644 before the rename makes it visible. On
  // any failure the temporary file is removed.
  const std::string command = fmt::format(
      "cat > {tmp} && [ $(wc -c < {tmp}) -eq {size} ] && chmod 0644 {tmp} && mv -f {tmp} {target}"
      " || {{ rc=$?; rm -f {tmp}; exit $rc; }}",
      fmt::arg("tmp", temporary), fmt::arg("size", content.size()), fmt::arg("target", target));
  auto ran = exec(command, content, timeout);
  if (auto* f = std::get_if<Failure>(&ran)) {
    if (f->kind == FailureKind::kTimeout) {
      f->message = fmt::format("{}: writing {} did not finish within {}", where(impl_->endpoint), path,
                               duration_text(timeout));
    }
    return std::move(*f);
  }
  const ExecResult& result = std::get<ExecResult>(ran);
  if (result.exit_status != 0) {
    std::string what = fmt::format("cannot write {} (exit status {})", path, result.exit_status);
    if (const std::string said = one_line(result.output); !said.empty()) {
      what += ": " + said.substr(0, kQuotedOutputBytes);
    }
    return failure(FailureKind::kCommand, impl_->endpoint, what);
  }
  return std::nullopt;
}

}  // namespace smlaunch::ssh
