/* Runs a command N times and prints the median and p90 wall time (ms), the
 * median CPU time (user + system, ms) and the largest peak RSS (MiB). A small C program on purpose:
 * Linux keeps the high-water RSS across exec, so a big parent (Python)
 * would be counted as the child's peak. stdout of the command goes to
 * /dev/null. Usage: smlaunch_spawn_measure N COMMAND [ARGS...] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int compare(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s N COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  const int runs = atoi(argv[1]);
  double* walls = calloc((size_t)runs, sizeof(double));
  double* cpus = calloc((size_t)runs, sizeof(double));
  long max_rss_kib = 0;
  for (int i = 0; i < runs; ++i) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const pid_t pid = fork();
    if (pid == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execv(argv[2], argv + 2);
      _exit(127);
    }
    int status = 0;
    struct rusage usage;
    wait4(pid, &status, 0, &usage);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "run %d failed (status %d)\n", i, status);
      return 1;
    }
    walls[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cpus[i] = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
              (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
    if (usage.ru_maxrss > max_rss_kib) max_rss_kib = usage.ru_maxrss;
  }
  qsort(walls, (size_t)runs, sizeof(double), compare);
  qsort(cpus, (size_t)runs, sizeof(double), compare);
  printf("%.2f %.2f %.2f %.1f\n", walls[runs / 2], walls[(runs * 9) / 10 - 1], cpus[runs / 2],
         (double)max_rss_kib / 1024.0);
  free(walls);
  free(cpus);
  return 0;
}
