/*
 * libsmlaunch_hostname.so: an LD_PRELOAD shim that makes gethostname() return
 * the host name the cluster uses (resourceconfig.json "current_host", e.g.
 * algo-1) instead of the container's opaque one (ip-10-0-0-12). smlaunch
 * passes -x LD_PRELOAD=<this library> to every rank, so Open MPI, Python's
 * socket.gethostname() and everything the ranks start agree with the hostfile.
 * Only gethostname() is interposed; uname() keeps the real node name (B147).
 *
 * Approach, fixing the reference shim's defects (D29): the file is
 * $SAGEMAKER_BASE_DIR/input/config/resourceconfig.json (os.path.join rules, so
 * an empty value gives the relative path input/config/..., as in smlaunch),
 * else /opt/ml/input/config/resourceconfig.json. It is read and parsed once per
 * process (pthread_once) with a small non-recursive JSON scanner that accepts
 * what smlaunch's reader accepts: strict JSON plus NaN/Infinity, valid UTF-8,
 * no unpaired surrogate escape, at most 512 levels of nesting. Only the
 * top-level "current_host" counts (the last one when repeated, like Python),
 * and it must be a host name of 1 to 253 letters, digits, '.', '-' or '_'.
 * On any problem the shim falls back to the next gethostname (RTLD_NEXT), else
 * uname(). It never prints, never allocates from the heap (anonymous mmap,
 * unmapped after parsing), keeps errno on success, and copies like glibc.
 */
#define _GNU_SOURCE /* NOLINT(bugprone-reserved-identifier): for RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#define SHIM_EXPORT __attribute__((visibility("default")))

/* Limits, the same as smlaunch's (config reader, pyvalue.hpp, validate.cpp). */
#define SHIM_MAX_FILE_BYTES ((uint64_t)64 << 20)
#define SHIM_MAX_DEPTH 512
#define SHIM_MAX_HOST 253
#define SHIM_MAX_INT_DIGITS 4300 /* Python 3.11's int_max_str_digits */
#define SHIM_PATH_BYTES 4096

static const char kDefaultBaseDir[] = "/opt/ml";
static const char kConfigSuffix[] = "input/config/resourceconfig.json";
static const char kKey[] = "current_host";

typedef int (*gethostname_fn)(char*, size_t);

/* Written once under g_once, read-only afterwards. */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static char g_host[SHIM_MAX_HOST + 1];
static size_t g_host_len; /* 0: no override, ask the real gethostname */
static gethostname_fn g_real;

/* ---- JSON scanning --------------------------------------------------------
 * The scanner works on a private, writable copy of the file: strings are
 * decoded in place (a decoded string is never longer than its source, and it
 * is written at or before the bytes still to be read), so the value of
 * "current_host" is just a span of the buffer. */

typedef unsigned char uchar;

#define STR_NUL 1u       /* a \u0000 escape */
#define STR_SURROGATE 2u /* an unpaired surrogate escape */

static int is_ws(uchar c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
static int is_digit(uchar c) {
  return c >= '0' && c <= '9';
}

static uchar* skip_ws(uchar* p, const uchar* end) {
  while (p < end && is_ws(*p)) ++p;
  return p;
}

static int hex4(const uchar* p, const uchar* end, unsigned* out) {
  unsigned value = 0;
  if (end - p < 4) return 0;
  for (int i = 0; i < 4; ++i) {
    const uchar c = p[i];
    unsigned digit;
    if (c >= '0' && c <= '9')
      digit = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      digit = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      digit = (unsigned)(c - 'A' + 10);
    else
      return 0;
    value = value << 4 | digit;
  }
  *out = value;
  return 1;
}

/* The length (1-4) of the well-formed UTF-8 sequence at p, else 0
 * (overlong forms, encoded surrogates and code points past U+10FFFF are not). */
static size_t utf8_sequence(const uchar* p, const uchar* end) {
  const uchar c = p[0];
  size_t n;
  uchar lo = 0x80, hi = 0xBF;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* past U+10FFFF */
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return n;
}

static uchar* put_utf8(uchar* w, unsigned cp) {
  if (cp < 0x80) {
    *w++ = (uchar)cp;
  } else if (cp < 0x800) {
    *w++ = (uchar)(0xC0 | cp >> 6);
    *w++ = (uchar)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *w++ = (uchar)(0xE0 | cp >> 12);
    *w++ = (uchar)(0x80 | (cp >> 6 & 0x3F));
    *w++ = (uchar)(0x80 | (cp & 0x3F));
  } else {
    *w++ = (uchar)(0xF0 | cp >> 18);
    *w++ = (uchar)(0x80 | (cp >> 12 & 0x3F));
    *w++ = (uchar)(0x80 | (cp >> 6 & 0x3F));
    *w++ = (uchar)(0x80 | (cp & 0x3F));
  }
  return w;
}

/* Decodes the string whose opening quote is just before *pp, in place. On
 * success *pp is past the closing quote and [*out, *out + *len) holds the
 * UTF-8 text; returns 0 on a syntax error. */
static int scan_string(uchar** pp, const uchar* end, const uchar** out, size_t* len, unsigned* flags) {
  uchar* r = *pp;
  uchar* w = *pp;
  uchar* const start = w;
  *flags = 0;
  for (;;) {
    if (r >= end) return 0;
    const uchar c = *r;
    if (c == '"') {
      *out = start;
      *len = (size_t)(w - start);
      *pp = r + 1;
      return 1;
    }
    if (c < 0x20) return 0; /* control characters (NUL too) must be escaped */
    if (c != '\\') {
      const size_t n = utf8_sequence(r, end);
      if (n == 0) return 0;
      for (size_t i = 0; i < n; ++i) *w++ = *r++;
      continue;
    }
    if (end - r < 2) return 0;
    const uchar e = r[1];
    r += 2;
    switch (e) {
      case '"':
        *w++ = '"';
        break;
      case '\\':
        *w++ = '\\';
        break;
      case '/':
        *w++ = '/';
        break;
      case 'b':
        *w++ = '\b';
        break;
      case 'f':
        *w++ = '\f';
        break;
      case 'n':
        *w++ = '\n';
        break;
      case 'r':
        *w++ = '\r';
        break;
      case 't':
        *w++ = '\t';
        break;
      case 'u': {
        unsigned cp;
        unsigned low;
        if (!hex4(r, end, &cp)) return 0;
        r += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && end - r >= 6 && r[0] == '\\' && r[1] == 'u' &&
            hex4(r + 2, end, &low) && low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          r += 6;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
          *flags |= STR_SURROGATE;
        }
        if (cp == 0) *flags |= STR_NUL;
        w = put_utf8(w, cp);
        break;
      }
      default:
        return 0;
    }
  }
}

/* A number, true/false/null or Python's NaN/Infinity/-Infinity; returns the
 * end of the token, or NULL. */
static uchar* scan_scalar(uchar* p, const uchar* end) {
  static const char* const kWords[] = {"true", "false", "null", "NaN", "Infinity", "-Infinity"};
  for (size_t i = 0; i < sizeof kWords / sizeof kWords[0]; ++i) {
    const size_t n = strlen(kWords[i]);
    if ((size_t)(end - p) >= n && memcmp(p, kWords[i], n) == 0) return p + n;
  }
  const uchar* digits;
  int integer = 1;
  if (p < end && *p == '-') ++p;
  digits = p;
  if (p < end && *p == '0') {
    ++p;
  } else if (p < end && *p >= '1' && *p <= '9') {
    while (p < end && is_digit(*p)) ++p;
  } else {
    return NULL;
  }
  const size_t int_digits = (size_t)(p - digits);
  if (p < end && *p == '.') {
    integer = 0;
    ++p;
    if (p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integer = 0;
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) ++p;
  }
  if (integer && int_digits > SHIM_MAX_INT_DIGITS) return NULL;
  return p;
}

static int is_host_name(const uchar* s, size_t n) {
  if (n == 0 || n > SHIM_MAX_HOST) return 0;
  for (size_t i = 0; i < n; ++i) {
    const uchar c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '-' ||
          c == '_')) {
      return 0;
    }
  }
  return 1;
}

enum scan_mode { WANT_VALUE, WANT_KEY, AFTER_VALUE };

/* Scans the whole document [p, end). Returns 1 and sets *host, *host_len when
 * it is valid, is an object, and its last top-level "current_host" is a
 * string with a usable host name; else 0. */
static int find_current_host(uchar* p, const uchar* end, const uchar** host, size_t* host_len) {
  uchar is_object[SHIM_MAX_DEPTH]; /* per open container */
  size_t depth = 0;
  int capture = 0; /* the next value belongs to a top-level "current_host" */
  int found = 0;   /* the last top-level "current_host" was usable */
  enum scan_mode mode = WANT_VALUE;

  p = skip_ws(p, end);
  if (p >= end || *p != '{') return 0;
  for (;;) {
    p = skip_ws(p, end);
    if (mode == WANT_VALUE) {
      const int captured = capture;
      capture = 0;
      if (p >= end) return 0;
      if (*p == '{' || *p == '[') {
        const int object = *p == '{';
        if (captured) found = 0;
        if (depth >= SHIM_MAX_DEPTH) return 0;
        is_object[depth++] = (uchar)object;
        p = skip_ws(p + 1, end);
        if (p < end && *p == (object ? '}' : ']')) {
          ++p;
          --depth;
          mode = AFTER_VALUE;
        } else {
          mode = object ? WANT_KEY : WANT_VALUE;
        }
        continue;
      }
      if (*p == '"') {
        const uchar* s;
        size_t n;
        unsigned flags;
        ++p;
        if (!scan_string(&p, end, &s, &n, &flags)) return 0;
        if (flags & STR_SURROGATE) return 0; /* smlaunch rejects the file */
        if (captured) {
          found = !(flags & STR_NUL) && is_host_name(s, n);
          *host = s;
          *host_len = n;
        }
      } else {
        uchar* q = scan_scalar(p, end);
        if (q == NULL) return 0;
        if (captured) found = 0;
        p = q;
      }
      mode = AFTER_VALUE;
      continue;
    }
    if (mode == WANT_KEY) {
      const uchar* s;
      size_t n;
      unsigned flags;
      if (p >= end || *p != '"') return 0;
      ++p;
      if (!scan_string(&p, end, &s, &n, &flags)) return 0;
      if (flags & STR_SURROGATE) return 0;
      capture = depth == 1 && n == sizeof kKey - 1 && memcmp(s, kKey, n) == 0;
      p = skip_ws(p, end);
      if (p >= end || *p != ':') return 0;
      ++p;
      mode = WANT_VALUE;
      continue;
    }
    /* AFTER_VALUE */
    if (depth == 0) return p == end && found;
    if (p >= end) return 0;
    if (*p == ',') {
      ++p;
      mode = is_object[depth - 1] ? WANT_KEY : WANT_VALUE;
    } else if (*p == (is_object[depth - 1] ? '}' : ']')) {
      ++p;
      --depth;
    } else {
      return 0;
    }
  }
}

/* ---- Loading ------------------------------------------------------------- */

/* memcpy, in one place: clang-tidy's advice to use Annex K's memcpy_s does
 * not apply to glibc. */
static void copy_bytes(void* to, const void* from, size_t n) {
  memcpy(to, from, n); /* NOLINT(clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling) */
}

/* os.path.join(base, "input/config/resourceconfig.json"). */
static int config_path(char* out, size_t size) {
  const char* base = getenv("SAGEMAKER_BASE_DIR");
  if (base == NULL) base = kDefaultBaseDir;
  const size_t base_len = strlen(base);
  const size_t separator = base_len > 0 && base[base_len - 1] != '/';
  if (base_len + separator + sizeof kConfigSuffix > size) return 0;
  copy_bytes(out, base, base_len);
  if (separator) out[base_len] = '/';
  copy_bytes(out + base_len + separator, kConfigSuffix, sizeof kConfigSuffix);
  return 1;
}

/* Reads the whole regular file at fd into a fresh anonymous mapping of
 * *mapped bytes (its size + 1); returns it (*length = bytes read) or NULL. */
static uchar* read_file(int fd, size_t* mapped, size_t* length) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      (uint64_t)st.st_size > SHIM_MAX_FILE_BYTES) {
    return NULL;
  }
  /* One spare byte: filling it means the file grew while being read. */
  const size_t capacity = (size_t)st.st_size + 1;
  void* memory = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return NULL;
  uchar* buffer = memory;
  size_t used = 0;
  while (used < capacity) {
    const ssize_t n = read(fd, buffer + used, capacity - used);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      used = capacity; /* an I/O error: give up below */
      break;
    }
    used += (size_t)n;
  }
  if (used >= capacity) {
    munmap(memory, capacity);
    return NULL;
  }
  *mapped = capacity;
  *length = used;
  return buffer;
}

static void load_once(void) {
  char path[SHIM_PATH_BYTES];
  int fd;
  if (config_path(path, sizeof path)) {
    /* O_NONBLOCK: a FIFO planted at the path must not hang the process. */
    do {
      fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
      size_t mapped = 0;
      size_t length = 0;
      uchar* buffer = read_file(fd, &mapped, &length);
      close(fd);
      if (buffer != NULL) {
        const uchar* host = NULL;
        size_t host_len = 0;
        if (find_current_host(buffer, buffer + length, &host, &host_len)) {
          copy_bytes(g_host, host, host_len);
          g_host[host_len] = '\0';
          g_host_len = host_len;
        }
        munmap(buffer, mapped);
      }
    }
  }
  if (g_host_len == 0) {
    union { /* ISO C has no object-to-function pointer cast; POSIX needs one */
      void* object;
      gethostname_fn function;
    } symbol;
    _Static_assert(sizeof(void*) == sizeof(gethostname_fn), "function and object pointers differ");
    symbol.object = dlsym(RTLD_NEXT, "gethostname");
    if (symbol.function != gethostname) g_real = symbol.function;
  }
}

/* ---- The interposed function --------------------------------------------- */

/* glibc's semantics: copy what fits (the NUL only if it fits too), then fail
 * with ENAMETOOLONG when the name and its NUL did not fit. */
static int copy_name(char* name, size_t len, const char* source, size_t source_len) {
  const size_t needed = source_len + 1;
  if (len > 0) {
    if (name == NULL) {
      errno = EFAULT;
      return -1;
    }
    copy_bytes(name, source, len < needed ? len : needed);
  }
  if (needed > len) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

static int uname_hostname(char* name, size_t len) {
  struct utsname u;
  if (uname(&u) != 0) return -1;
  return copy_name(name, len, u.nodename, strnlen(u.nodename, sizeof u.nodename - 1));
}

SHIM_EXPORT int gethostname(char* name, size_t len) {
  const int saved_errno = errno;
  (void)pthread_once(&g_once, load_once);
  errno = saved_errno;
  if (g_host_len > 0) return copy_name(name, len, g_host, g_host_len);
  if (g_real != NULL) return g_real(name, len);
  return uname_hostname(name, len);
}
