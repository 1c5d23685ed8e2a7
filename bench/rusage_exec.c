/* Runs one command with this process's stdin, stdout and stderr, waits for
 * it, and appends one line to stderr:
 *
 *   rusage_exec: status=S wall_ms=W user_ms=U sys_ms=Y maxrss_kib=M
 *
 * M is wait4's ru_maxrss: the largest peak RSS of the command and of the
 * descendants it reaped. A small C program on purpose: Linux keeps the
 * high-water RSS across exec, so a command started straight from Python
 * would report Python's peak. Used by bench/relay_process.py.
 * Usage: smlaunch_rusage_exec COMMAND [ARGS...] */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms(struct timeval t) {
  return (double)t.tv_sec * 1e3 + (double)t.tv_usec / 1e3;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    execv(argv[1], argv + 1);
    perror(argv[1]);
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("wait4");
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const double wall = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  fprintf(stderr, "rusage_exec: status=%d wall_ms=%.3f user_ms=%.3f sys_ms=%.3f maxrss_kib=%ld\n", status,
          wall, ms(usage.ru_utime), ms(usage.ru_stime), usage.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
