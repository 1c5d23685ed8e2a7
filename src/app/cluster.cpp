#include "app/cluster.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <optional>
#include <set>

#include "app/log.hpp"
#include "app/report.hpp"
#include "app/run.hpp"
#include "cluster/etc_environment.hpp"
#include "cluster/outcome.hpp"
#include "cluster/peers.hpp"
#include "net/reach.hpp"
#include "platform/fd.hpp"
#include "platform/files.hpp"
#include "platform/process.hpp"
#include "platform/signals.hpp"
#include "smlaunch/diagnostics.hpp"
#include "ssh/sshd.hpp"

namespace smlaunch::app {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kClusterError = "ClusterError";
// How long a host of a torchrun/XLA job that will not start keeps answering
// the others' readiness reads (they retry at least every second).
constexpr std::chrono::milliseconds kLinger{3'000};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double seconds_of(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Why this host cannot go on: logged, written to output/failure, exit code.
int fail(const Loaded& l, const ClusterOptions& o, std::string error_class, int exit_code, std::string message) {
  JobReport report;
  report.exit_code = exit_code;
  report.failure = FailureReport{std::move(error_class), exit_code, std::move(message), std::nullopt, o.invocation};
  return report_job(l, report);
}

int stopped(const Loaded& l, const ClusterOptions& o, int signal, std::string_view while_doing) {
  return fail(l, o, "StoppedBySignal", kExitSignalBase + signal,
              fmt::format("stopped by signal {} ({}) while {}", signal, platform::signal_name(signal), while_doing));
}

std::vector<std::string> others(const plan::LaunchPlan& p) {
  std::vector<std::string> hosts;
  for (const auto& h : p.hosts) {
    if (h != p.current_host) hosts.push_back(h);
  }
  return hosts;
}

// Stop signals (SIGTERM, SIGINT, SIGHUP) while no job runs: taken from a
// signalfd (they are blocked since main()); SIGCHLD reaps what it can.
class StopWatch {
 public:
  /// The first stop signal received so far (0: none). Never blocks.
  int check() {
    for (const auto& s : fd_.take_pending()) {
      if (platform::is_stop_signal(s.number) && signal_ == 0) signal_ = s.number;
    }
    return signal_;
  }
  [[nodiscard]] int fd() const noexcept { return fd_.fd(); }

 private:
  platform::SignalFd fd_;
  int signal_ = 0;
};

// The names must resolve before anyone connects (B62-B63, D33): all at
// once, one budget. Skipped in SageMaker Studio local mode.
std::optional<int> wait_for_names(const Loaded& l, const ClusterOptions& o) {
  // The reference compares the lower-cased value with "true".
  if (auto it = l.environ.find("SM_STUDIO_LOCAL_MODE");
      it != l.environ.end() && std::ranges::equal(it->second, std::string_view("true"),
                                                  [](char a, char b) { return (a | 0x20) == b; })) {
    return std::nullopt;
  }
  const auto started = Clock::now();
  const auto unresolved = net::wait_for_names(l.plan.hosts, o.dns_budget);
  if (unresolved.empty()) {
    log::debug("All {} host names resolve ({:.3f} s)", l.plan.hosts.size(), seconds_since(started));
    return std::nullopt;
  }
  std::string names;
  for (const auto& h : unresolved) names += (names.empty() ? "" : ", ") + h;
  return fail(l, o, kClusterError, kExitClusterFailed,
              fmt::format("host names never resolved within {:.0f} s: {}", seconds_of(o.dns_budget), names));
}

// How every host watches the others during the job.
cluster::Heartbeat::Options heartbeat_options(const ClusterOptions& o) {
  return {.port = o.heartbeat_port,
          .interval = o.heartbeat_interval,
          .lost_after = o.lost_after,
          .probe_timeout = std::min(o.heartbeat_interval, 1500ms),
          .silent_limit = 3 * o.lost_after};
}

// This host's answer to the others' heartbeat probes, for as long as we run.
std::variant<std::unique_ptr<cluster::HeartbeatListener>, int> listen_for_heartbeats(const Loaded& l,
                                                                                    const ClusterOptions& o) {
  auto listener = cluster::HeartbeatListener::start(o.heartbeat_port);
  if (auto* error = std::get_if<std::string>(&listener)) return fail(l, o, kClusterError, kExitClusterFailed, *error);
  return std::move(std::get<std::unique_ptr<cluster::HeartbeatListener>>(listener));
}

std::variant<ssh::Sshd, int> start_sshd(const Loaded& l, const ClusterOptions& o) {
  log::info("Creating SSH daemon.");
  const auto started = Clock::now();
  ssh::SshdOptions options;
  options.port = o.ssh_port;
  // Every worker's probes (and mpirun's logins) reach the leader's sshd
  // at about the same time: above MaxStartups' default of 10 unauthenticated
  // connections, sshd starts dropping them.
  const auto hosts = l.plan.hosts.size();
  options.extra_options.push_back(fmt::format("MaxStartups={}:30:{}", hosts + 16, 2 * hosts + 32));
  if (auto it = l.environ.find("PATH"); it != l.environ.end()) options.path_env = it->second + ":/usr/sbin:/sbin";
  auto sshd = ssh::Sshd::start(options);
  if (auto* error = std::get_if<ssh::SshdError>(&sshd)) {
    return fail(l, o, "SshdError", kExitClusterFailed, "sshd did not start: " + error->message);
  }
  log::info("SSH daemon ready on port {} ({:.3f} s)", o.ssh_port, seconds_since(started));
  return std::move(std::get<ssh::Sshd>(sshd));
}

// The variables an SSH session on this host must see: the job's.
std::map<std::string, std::string> job_environment(const Loaded& l) {
  std::map<std::string, std::string> vars(l.environ.begin(), l.environ.end());
  for (const auto& [name, value] : l.plan.env) vars[name] = value;
  return vars;
}

// ---- the MPI daemon on a worker (orted for Open MPI 4, prted for 5) --------

class DaemonLog {
 public:
  void scan() {
    std::set<std::pair<pid_t, std::string>> now;
    if (DIR* dir = ::opendir("/proc")) {
      while (const dirent* entry = ::readdir(dir)) {
        const char* name = entry->d_name;
        if (*name < '0' || *name > '9') continue;
        auto comm = platform::read_file(std::string("/proc/") + name + "/comm", 64);
        auto* text = std::get_if<std::string>(&comm);
        if (text == nullptr) continue;
        std::string c = std::move(*text);
        while (!c.empty() && c.back() == '\n') c.pop_back();
        if (c == "orted" || c == "prted") now.emplace(static_cast<pid_t>(std::atoi(name)), c);
      }
      ::closedir(dir);
    }
    for (const auto& d : now) {
      if (!seen_.contains(d)) log::info("MPI daemon {} started (pid {})", d.second, d.first);
    }
    for (const auto& d : seen_) {
      if (!now.contains(d)) log::info("MPI daemon {} (pid {}) ended", d.second, d.first);
    }
    seen_ = std::move(now);
  }

 private:
  std::set<std::pair<pid_t, std::string>> seen_;
};

// Reaps the zombies of orphans re-parented to us (we are a subreaper).
void reap_orphans(pid_t keep) {
  while (true) {
    int status = 0;
    // Never take sshd's status from under ssh::Sshd::stop().
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (info.si_pid == keep) return;
    (void)::waitpid(info.si_pid, &status, WNOHANG);
  }
}

// This host's readiness as the others read it: success, or its own code
// failure (class, exit code, message).
cluster::Outcome own_readiness(const ClusterOptions& o) {
  if (!o.code_failure || !o.code_failure->failure) return {};
  const auto& failure = *o.code_failure->failure;
  return {o.code_failure->exit_code, failure.error_class, failure.message};
}

// The job cannot start while a host's code is not ready (its fetch or
// install failed): this host's own failure, or what workers published. One
// report naming every such host, with the first one's class and exit code.
std::optional<JobReport> code_not_ready(const ClusterOptions& o, const std::string& self,
                                        const std::vector<cluster::RemoteFile>& published) {
  struct NotReady {
    std::string host;
    cluster::Outcome outcome;
  };
  std::vector<NotReady> hosts;
  if (auto own = own_readiness(o); !own.success()) hosts.push_back({self, std::move(own)});
  for (const auto& file : published) {
    if (file.content.empty()) continue;  // nothing published (an older launcher): ready
    if (auto outcome = cluster::parse_outcome(file.content)) {
      if (!outcome->success()) hosts.push_back({file.host, std::move(*outcome)});
    } else {
      hosts.push_back(
          {file.host, {kExitClusterFailed, kClusterError, "its readiness file is not an outcome object"}});
    }
  }
  if (hosts.empty()) return std::nullopt;

  JobReport report;
  if (hosts.front().host == self) {
    report = *o.code_failure;
  } else {
    const auto& first = hosts.front();
    report.exit_code = first.outcome.exit_code;
    report.failure =
        FailureReport{first.outcome.error_class.empty() ? kClusterError : first.outcome.error_class,
                      first.outcome.exit_code, "", std::nullopt, o.invocation};
  }
  std::string message = "the code is not ready on ";
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const auto& h = hosts[i];
    message +=
        fmt::format("{}{} ({}: {})", i == 0 ? "" : ", ", h.host, h.outcome.error_class, h.outcome.message);
  }
  report.failure->message = std::move(message);
  return report;
}

}  // namespace

// ---- leader -----------------------------------------------------------------

int run_leader(const Loaded& l, const ClusterOptions& o) {
  const auto& p = l.plan;
  const auto started = Clock::now();
  const auto deadline = started + o.peer_timeout;
  const std::vector<std::string> workers = others(p);
  StopWatch stops;
  log::info("Starting MPI run as leader of {} hosts", p.hosts.size());
  (void)platform::become_child_subreaper();

  if (auto code = wait_for_names(l, o)) return *code;
  if (const int s = stops.check()) return stopped(l, o, s, "resolving host names");
  auto listening = listen_for_heartbeats(l, o);
  if (const int* code = std::get_if<int>(&listening)) return *code;
  auto started_sshd = start_sshd(l, o);
  if (const int* code = std::get_if<int>(&started_sshd)) return *code;
  auto& sshd = std::get<ssh::Sshd>(started_sshd);

  // Every worker's sshd, concurrently, one deadline.
  log::info("Waiting for MPI workers to establish their SSH connections");
  const auto wait_started = Clock::now();
  cluster::WaitOptions wait;
  wait.port = o.ssh_port;
  wait.deadline = deadline;
  wait.progress = [&](std::size_t up, std::size_t total) { log::info("{}/{} workers reachable", up, total); };
  wait.on_up = [](const std::string& host) { log::info("Worker {} available for communication", host); };
  wait.stop_requested = [&] { return stops.check() != 0; };
  const auto never_up = cluster::wait_for_sshd(workers, wait);
  if (const int s = stops.check()) return stopped(l, o, s, "waiting for the workers");
  if (!never_up.empty()) {
    return fail(l, o, kClusterError, kExitClusterFailed,
                fmt::format("workers never accepted SSH within {:.0f} s (--peer-timeout): {}",
                            seconds_of(o.peer_timeout), cluster::describe(never_up)));
  }
  const auto workers_up = Clock::now();
  log::info("All {} workers reachable ({:.3f} s)", workers.size(), seconds_since(wait_started));

  // Our key must open a session on each (mpirun needs it, and a refused key
  // will not fix itself); on it, each worker's readiness is read.
  std::vector<cluster::PeerProblem> refused;
  auto sessions = cluster::Sessions::open(workers, o.ssh_port, {}, o.read_timeout, refused);
  std::vector<cluster::PeerProblem> unread;
  const auto published =
      sessions.read([&](const std::string& host) { return cluster::readiness_path(o.outcome_dir, host); },
                    o.read_timeout, unread);
  refused.insert(refused.end(), unread.begin(), unread.end());
  if (!refused.empty()) {
    return fail(l, o, kClusterError, kExitClusterFailed,
                "cannot log in to workers over SSH: " + cluster::describe(refused));
  }
  log::info("SSH login to every worker works ({:.3f} s)", seconds_since(workers_up));

  // The job, with the workers watched; none when a host's code is not ready.
  JobReport report;
  std::vector<cluster::PeerProblem> lost;
  bool job_ran = false;
  if (auto not_ready = code_not_ready(o, p.current_host, published)) {
    report = std::move(*not_ready);
    log::error("Not starting the job: {}", report.failure->message);
  } else {
    cluster::Heartbeat heartbeat(workers, heartbeat_options(o));
    report = run_job(l, {.term_grace = o.term_grace, .invocation = o.invocation, .abort_fd = heartbeat.abort_fd()});
    lost = heartbeat.lost();
    if (const auto silent = heartbeat.inconclusive(); silent.rounds > 0) {
      log::warning(
          "No worker answered the heartbeat in {} rounds (up to {:.1f} s in a row): this host was too "
          "busy to tell, so those rounds were not counted against the workers",
          silent.rounds, std::chrono::duration<double>(silent.longest).count());
    }
    job_ran = true;
  }
  // A worker that crashed makes mpirun fail before the heartbeat calls it
  // lost: look once more, so the report names it.
  if (report.failure && lost.empty() && report.exit_code != kExitSuccess &&
      report.exit_code < kExitSignalBase && job_ran) {
    lost = cluster::unreachable_now(workers, o.heartbeat_port, 1s);
  }
  if (!lost.empty()) {
    std::string message = "lost worker " + cluster::describe(lost) + "; the job was stopped";
    if (report.failure && !report.failure->message.empty()) message += ". Job output: " + report.failure->message;
    report.exit_code = kExitClusterFailed;
    report.failure = FailureReport{kClusterError, kExitClusterFailed, message, std::nullopt, report.command};
  }

  // Tell every (reachable) worker the outcome, concurrently.
  const auto deliver_started = Clock::now();
  cluster::Outcome outcome{report.exit_code, report.failure ? report.failure->error_class : "",
                           report.failure ? report.failure->message : ""};
  std::vector<std::string> recipients;
  for (const auto& w : workers) {
    if (std::none_of(lost.begin(), lost.end(), [&](const auto& x) { return x.host == w; })) recipients.push_back(w);
  }
  log::info("Writing the job's outcome to {} workers", recipients.size());
  const auto undelivered = sessions.write(recipients, cluster::outcome_path(o.outcome_dir, p.current_host),
                                          cluster::to_text(outcome), o.deliver_timeout);
  if (!undelivered.empty()) log::warning("Could not tell the outcome to {}", cluster::describe(undelivered));
  log::info("Outcome delivered ({:.3f} s)", seconds_since(deliver_started));

  const int code = report_job(l, report);

  // Workers leave once they have the outcome; wait for that, briefly, so
  // the platform does not see the leader gone first.
  const auto leave_started = Clock::now();
  const auto staying = cluster::wait_until_gone(recipients, o.heartbeat_port, Clock::now() + o.leave_timeout);
  if (!staying.empty()) {
    std::string names;
    for (const auto& h : staying) names += (names.empty() ? "" : ", ") + h;
    log::warning("Workers still running after {:.0f} s: {}", seconds_of(o.leave_timeout), names);
  } else {
    log::info("All workers left ({:.3f} s)", seconds_since(leave_started));
  }
  sshd.stop();
  platform::stop_all_children(o.term_grace);
  return code;
}

// ---- worker -----------------------------------------------------------------

int run_worker(const Loaded& l, const ClusterOptions& o) {
  const auto& p = l.plan;
  const auto deadline = Clock::now() + o.peer_timeout;
  const std::string outcome_file = cluster::outcome_path(o.outcome_dir, p.leader);
  StopWatch stops;
  log::info("Starting MPI run as worker node.");
  (void)platform::become_child_subreaper();
  if (::unlink(outcome_file.c_str()) == 0) log::info("Removed a stale outcome file {}", outcome_file);
  const std::string readiness_file = cluster::readiness_path(o.outcome_dir, p.current_host);
  (void)::unlink(readiness_file.c_str());

  if (auto code = wait_for_names(l, o)) return *code;

  log::info("Waiting for MPI Master to create SSH daemon.");
  cluster::WaitOptions wait;
  wait.port = o.ssh_port;
  wait.deadline = deadline;
  wait.stop_requested = [&] { return stops.check() != 0; };
  const auto leader_missing = cluster::wait_for_sshd({p.leader}, wait);
  if (const int s = stops.check()) return stopped(l, o, s, "waiting for the leader");
  if (!leader_missing.empty()) {
    return fail(l, o, kClusterError, kExitClusterFailed,
                fmt::format("the leader {} never accepted SSH within {:.0f} s (--peer-timeout): {}", p.leader,
                            seconds_of(o.peer_timeout), leader_missing.front().why));
  }
  log::info("MPI Master online, creating SSH daemon.");

  log::info("Writing environment variables to /etc/environment for the MPI process.");
  std::vector<std::string> skipped;
  if (auto error = cluster::write_managed_block(o.etc_environment, job_environment(l), &skipped)) {
    log::warning("could not write {}: {}", o.etc_environment, *error);
  }
  for (const auto& name : skipped) log::debug("{} not written to {} (pam_env cannot carry its value)", name, o.etc_environment);

  // Whether our code is ready, for the leader to read once our sshd is up
  // (so it is there before the leader can look).
  const cluster::Outcome readiness = own_readiness(o);
  if (!readiness.success()) {
    log::error("The code is not ready on this host ({}); telling the leader", readiness.error_class);
  }
  if (auto error = platform::write_file_atomically(readiness_file, cluster::to_text(readiness), 0644)) {
    log::warning("could not publish this host's readiness: {}", *error);
  }

  auto listening = listen_for_heartbeats(l, o);
  if (const int* code = std::get_if<int>(&listening)) return *code;
  auto started_sshd = start_sshd(l, o);
  if (const int* code = std::get_if<int>(&started_sshd)) return *code;
  auto& sshd = std::get<ssh::Sshd>(started_sshd);

  // Wait for the outcome file (inotify on its directory), watching the
  // leader and the MPI daemon, until a stop signal.
  platform::Fd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (inotify.valid()) {
    (void)::inotify_add_watch(inotify.get(), o.outcome_dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
  }
  cluster::Heartbeat leader_watch({p.leader}, heartbeat_options(o));
  DaemonLog daemons;
  std::optional<cluster::Outcome> outcome;
  int stop_signal = 0;
  const auto read_outcome = [&]() -> bool {
    auto content = platform::read_file(outcome_file, 1 << 20);
    const auto* text = std::get_if<std::string>(&content);
    if (text == nullptr) return false;
    if (text->empty()) {
      outcome = cluster::Outcome{};  // an older leader's `touch`
    } else if (auto parsed = cluster::parse_outcome(*text)) {
      outcome = *parsed;
    } else {
      return false;  // not complete yet (a non-atomic writer)
    }
    return true;
  };
  log::info("Waiting for the leader's outcome in {}", outcome_file);
  while (!read_outcome()) {
    if ((stop_signal = stops.check()) != 0) break;
    if (!leader_watch.lost().empty()) break;
    reap_orphans(sshd.pid());
    daemons.scan();
    std::array<pollfd, 3> fds{pollfd{stops.fd(), POLLIN, 0}, pollfd{leader_watch.abort_fd(), POLLIN, 0},
                              pollfd{inotify.get(), POLLIN, 0}};
    (void)::poll(fds.data(), inotify.valid() ? 3 : 2, inotify.valid() ? 500 : 100);
    if (inotify.valid() && (fds[2].revents & POLLIN) != 0) {
      std::array<char, 4096> events{};
      while (::read(inotify.get(), events.data(), events.size()) > 0) {
      }
    }
  }
  daemons.scan();

  int code = 0;
  if (stop_signal != 0) {
    code = stopped(l, o, stop_signal, "waiting for the leader's outcome");
  } else if (o.code_failure) {
    // Our own failure, whatever the leader made of it.
    if (outcome) log::info("The leader reported: {}", outcome->message);
    code = report_job(l, *o.code_failure);
  } else if (!outcome) {
    const auto lost = leader_watch.lost();
    code = fail(l, o, kClusterError, kExitClusterFailed,
                fmt::format("lost the leader {}: {}", p.leader, lost.empty() ? "" : lost.front().why));
  } else if (outcome->success()) {
    log::info("MPI training job status file found. Exit gracefully");
    code = report_job(l, JobReport{});
  } else {
    JobReport report;
    report.exit_code = outcome->exit_code;
    report.failure = FailureReport{outcome->error_class.empty() ? "ExecuteUserScriptError" : outcome->error_class,
                                   outcome->exit_code,
                                   fmt::format("the leader {} reported: {}", p.leader, outcome->message),
                                   std::nullopt, o.invocation};
    code = report_job(l, report);
  }
  log::info("MPI process finished.");
  sshd.stop();
  platform::stop_all_children(o.term_grace);
  return code;
}

// ---- node (torchrun, xla) -----------------------------------------------------

int run_node(const Loaded& l, const ClusterOptions& o) {
  const auto& p = l.plan;
  StopWatch stops;
  if (auto code = wait_for_names(l, o)) return *code;
  if (const int s = stops.check()) return stopped(l, o, s, "resolving host names");

  // Every host says on its heartbeat port whether its code is ready; no host
  // starts its part of the job before every other has said it is (a start
  // barrier), and none starts when one is not.
  const cluster::Outcome readiness = own_readiness(o);
  if (!readiness.success()) {
    log::error("The code is not ready on this host ({}); telling the other hosts", readiness.error_class);
  }
  auto listener = cluster::HeartbeatListener::start(o.heartbeat_port, cluster::to_text(readiness));
  if (auto* error = std::get_if<std::string>(&listener))
    return fail(l, o, kClusterError, kExitClusterFailed, *error);

  const std::vector<std::string> peers = others(p);
  const auto wait_started = Clock::now();
  log::info("Waiting for the other {} hosts to be ready", peers.size());
  cluster::WaitOptions wait;
  wait.port = o.heartbeat_port;
  wait.deadline = wait_started + o.peer_timeout;
  wait.stop_requested = [&] { return stops.check() != 0; };
  std::vector<cluster::PeerProblem> never;
  const auto answers = cluster::wait_for_greetings(peers, wait, never);
  if (const int s = stops.check()) return stopped(l, o, s, "waiting for the other hosts");
  if (!never.empty()) {
    return fail(l, o, kClusterError, kExitClusterFailed,
                fmt::format("hosts never answered within {:.0f} s (--peer-timeout): {}",
                            seconds_of(o.peer_timeout), cluster::describe(never)));
  }
  if (auto not_ready = code_not_ready(o, p.current_host, answers)) {
    log::error("Not starting the job: {}", not_ready->failure->message);
    const int code = report_job(l, *not_ready);
    // Every other host is in its own wait now (we have read its answer, and
    // it listens only once it waits) and retries us at least every second:
    // keep answering a little longer, so that each reads us before we go.
    pollfd stop{stops.fd(), POLLIN, 0};
    (void)::poll(&stop, 1, static_cast<int>(kLinger.count()));
    return code;
  }
  log::info("Every host is ready ({:.3f} s)", seconds_since(wait_started));
  return run_plan(l, {.term_grace = o.term_grace, .invocation = o.invocation});
}

}  // namespace smlaunch::app
