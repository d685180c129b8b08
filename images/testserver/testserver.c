// A tiny static HTTP test server and client for the real node's tests
// (tests/node). One binary, several commands, so one small image serves every
// test:
//
//   testserver serve [--port N] [--exit-after S] [--exit-code C]
//       answer every HTTP request with 200 and "testserver <hostname> <path>",
//       log one line per request to stdout; with --exit-after, exit with
//       code C (default 2) S seconds after start, like the app's crash
//   testserver get <ipv4> <port> [<path>]
//       one HTTP GET, print the answer's body; exit 0 on status 200
//   testserver connect <ipv4> <port> <timeout-seconds>
//       one TCP connect; exit 0 if it connected, 1 if not (egress tests)
//   testserver load <ipv4> <port> <path> <count> <per-second> <timeout-ms> [<host>]
//       <count> GETs, each on a new connection, started at a fixed rate
//       whatever the earlier ones do (a slow answer delays no later request),
//       each given <timeout-ms> in all; prints the runs of failures and one
//       line of counts (availability tests); exit 0 once all are done
//   testserver version
//
// Addresses are numeric: a static binary has no NSS, and name lookups are
// tested with glibc's getent, which the image carries.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int exit_code = 2;

static void usage(void) {
  fputs("usage: testserver serve [--port N] [--exit-after S] [--exit-code C]\n"
        "       testserver get <ipv4> <port> [<path>]\n"
        "       testserver connect <ipv4> <port> <timeout-seconds>\n"
        "       testserver load <ipv4> <port> <path> <count> <per-second> <timeout-ms> [<host>]\n"
        "       testserver version\n",
        stderr);
  exit(64);
}

static void on_alarm(int signo) {
  (void)signo;
  // Only async-signal-safe calls here.
  static const char msg[] = "testserver: lifetime over, exiting as asked\n";
  ssize_t ignored = write(STDOUT_FILENO, msg, sizeof msg - 1);
  (void)ignored;
  _exit(exit_code);
}

static void on_terminate(int signo) {
  (void)signo;
  _exit(0);
}

static int parse_int(const char *text, const char *what) {
  char *end = NULL;
  long value = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < 0 || value > 65535) {
    fprintf(stderr, "testserver: %s must be a number from 0 to 65535, got '%s'\n", what, text);
    exit(64);
  }
  return (int)value;
}

static struct sockaddr_in parse_address(const char *ip, const char *port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(parse_int(port, "port"))};
  if (inet_pton(AF_INET, ip, &address.sin_addr) != 1) {
    fprintf(stderr, "testserver: '%s' is not an IPv4 address\n", ip);
    exit(64);
  }
  return address;
}

// Answers one request on an accepted connection. A client that sends nothing
// is dropped after the receive timeout, so it cannot hold up the probes.
static void answer(int conn, const struct sockaddr_in *peer, const char *hostname) {
  char request[2048];
  size_t used = 0;
  while (used < sizeof request - 1) {
    ssize_t n = recv(conn, request + used, sizeof request - 1 - used, 0);
    if (n <= 0) break;
    used += (size_t)n;
    request[used] = '\0';
    if (strstr(request, "\r\n\r\n") || strstr(request, "\n\n")) break;
  }
  request[used] = '\0';
  char method[16] = "?", path[1024] = "?";
  if (sscanf(request, "%15s %1023s", method, path) < 2) {
    close(conn);
    return;
  }
  char from[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &peer->sin_addr, from, sizeof from);
  printf("request %s %s from %s\n", method, path, from);
  fflush(stdout);

  char body[1200];
  int body_len = snprintf(body, sizeof body, "testserver %s %s\n", hostname, path);
  char response[1600];
  int len = snprintf(response, sizeof response,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s",
                     body_len, body);
  ssize_t ignored = send(conn, response, (size_t)len, MSG_NOSIGNAL);
  (void)ignored;
  close(conn);
}

static int serve(int argc, char **argv) {
  int port = 8080, exit_after = 0;
  for (int i = 0; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--port") == 0) {
      port = parse_int(argv[++i], "--port");
    } else if (strcmp(argv[i], "--exit-after") == 0) {
      exit_after = parse_int(argv[++i], "--exit-after");
    } else if (strcmp(argv[i], "--exit-code") == 0) {
      exit_code = parse_int(argv[++i], "--exit-code");
    } else {
      usage();
    }
  }
  signal(SIGTERM, on_terminate);
  signal(SIGINT, on_terminate);
  if (exit_after > 0) {
    signal(SIGALRM, on_alarm);
    alarm((unsigned)exit_after);
  }
  char hostname[256] = "unknown";
  gethostname(hostname, sizeof hostname - 1);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) {
    // The message a non-root process gets for port 80 without the sysctl.
    fprintf(stderr, "testserver: bind to port %d as uid %d: %s\n", port, (int)getuid(), strerror(errno));
    return 1;
  }
  if (listen(listener, 64) < 0) {
    perror("testserver: listen");
    return 1;
  }
  printf("testserver: listening on port %d as uid %d\n", port, (int)getuid());
  fflush(stdout);
  for (;;) {
    struct sockaddr_in peer;
    socklen_t peer_len = sizeof peer;
    int conn = accept(listener, (struct sockaddr *)&peer, &peer_len);
    if (conn < 0) {
      if (errno == EINTR) continue;
      perror("testserver: accept");
      return 1;
    }
    struct timeval timeout = {.tv_sec = 5};
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    answer(conn, &peer, hostname);
  }
}

// Connects with a deadline: a non-blocking connect and a poll, so a dropped
// SYN (the egress rule) ends in a timeout instead of the kernel's minutes.
static int connect_within(const struct sockaddr_in *address, int timeout_seconds) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (const struct sockaddr *)address, sizeof *address) < 0 && errno != EINPROGRESS) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  struct pollfd pfd = {.fd = fd, .events = POLLOUT};
  int ready = poll(&pfd, 1, timeout_seconds * 1000);
  if (ready == 0) {
    close(fd);
    errno = ETIMEDOUT;
    return -1;
  }
  int error = 0;
  socklen_t error_len = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
  if (ready < 0 || error != 0) {
    close(fd);
    errno = error ? error : errno;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

static int get(int argc, char **argv) {
  if (argc < 2 || argc > 3) usage();
  struct sockaddr_in address = parse_address(argv[0], argv[1]);
  const char *path = argc == 3 ? argv[2] : "/";
  int fd = connect_within(&address, 5);
  if (fd < 0) {
    fprintf(stderr, "testserver: connect %s:%s: %s\n", argv[0], argv[1], strerror(errno));
    return 1;
  }
  struct timeval timeout = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char request[1200];
  int len = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, argv[0]);
  if (send(fd, request, (size_t)len, MSG_NOSIGNAL) != len) {
    perror("testserver: send");
    return 1;
  }
  char response[8192];
  size_t used = 0;
  ssize_t n;
  while (used < sizeof response - 1 && (n = recv(fd, response + used, sizeof response - 1 - used, 0)) > 0)
    used += (size_t)n;
  response[used] = '\0';
  close(fd);
  int status = 0;
  if (sscanf(response, "HTTP/%*s %d", &status) != 1) {
    fprintf(stderr, "testserver: no HTTP answer from %s:%s\n", argv[0], argv[1]);
    return 1;
  }
  const char *body = strstr(response, "\r\n\r\n");
  fputs(body ? body + 4 : "", stdout);
  return status == 200 ? 0 : 1;
}

static int connect_only(int argc, char **argv) {
  if (argc != 3) usage();
  struct sockaddr_in address = parse_address(argv[0], argv[1]);
  int fd = connect_within(&address, parse_int(argv[2], "timeout"));
  if (fd < 0) {
    printf("connect %s:%s failed: %s\n", argv[0], argv[1], strerror(errno));
    return 1;
  }
  printf("connect %s:%s succeeded\n", argv[0], argv[1]);
  close(fd);
  return 0;
}

// --- load: requests at a fixed rate -----------------------------------------

enum outcome { PENDING, OK, NON_200, REFUSED, TIMEOUT, RESET, OTHER, OUTCOMES };
static const char *const outcome_names[OUTCOMES] = {"pending", "ok", "non200", "refused",
                                                    "timeout", "reset", "other"};

struct request {
  int fd, index, connected;
  long long deadline_ms;
  size_t used;
  char buffer[512];
};

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static enum outcome outcome_of_errno(int error) {
  switch (error) {
    case ECONNREFUSED: return REFUSED;
    case ETIMEDOUT: return TIMEOUT;
    case ECONNRESET:
    case EPIPE: return RESET;
    default: return OTHER;
  }
}

// The status line's code once the headers are in (or the peer closed).
static enum outcome outcome_of_answer(const struct request *r) {
  int status = 0;
  if (sscanf(r->buffer, "HTTP/%*s %d", &status) != 1) return OTHER;
  return status == 200 ? OK : NON_200;
}

static int load(int argc, char **argv) {
  if (argc < 6 || argc > 7) usage();
  struct sockaddr_in address = parse_address(argv[0], argv[1]);
  const char *path = argv[2];
  int count = parse_int(argv[3], "count"), rate = parse_int(argv[4], "per-second");
  int timeout_ms = parse_int(argv[5], "timeout-ms");
  const char *host = argc == 7 ? argv[6] : argv[0];
  if (count < 1 || rate < 1 || timeout_ms < 1) usage();
  char request_text[1200];
  int request_len = snprintf(request_text, sizeof request_text,
                             "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);

  // At most rate * timeout + 1 requests are in flight.
  int slots = (int)((long long)rate * timeout_ms / 1000 + 2);
  struct request *flight = calloc((size_t)slots, sizeof *flight);
  struct pollfd *fds = calloc((size_t)slots, sizeof *fds);
  unsigned char *outcomes = calloc((size_t)count, 1);
  if (!flight || !fds || !outcomes) {
    perror("testserver: calloc");
    return 1;
  }
  int active = 0, started = 0, done = 0;
  long long t0 = now_ms();
  // The wall clock of request #0, to match the offsets below with events.
  char started_at[32] = "?";
  time_t wall = time(NULL);
  strftime(started_at, sizeof started_at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&wall));
  printf("load: %d requests to %s:%s%s as %s, %d a second, %d ms each, from %s\n", count, argv[0],
         argv[1], path, host, rate, timeout_ms, started_at);
  fflush(stdout);

  while (done < count) {
    long long now = now_ms();
    // Start every request whose time has come.
    while (started < count && t0 + (long long)started * 1000 / rate <= now) {
      struct request *r = &flight[active];
      memset(r, 0, sizeof *r);
      r->index = started++;
      r->deadline_ms = now + timeout_ms;
      r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      if (r->fd < 0 ||
          (connect(r->fd, (const struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS)) {
        outcomes[r->index] = outcome_of_errno(errno);
        if (r->fd >= 0) close(r->fd);
        done++;
        continue;
      }
      active++;
    }
    // Wait for the next start, the next deadline or a socket.
    long long wake = started < count ? t0 + (long long)started * 1000 / rate : now + 1000;
    for (int i = 0; i < active; i++) {
      if (flight[i].deadline_ms < wake) wake = flight[i].deadline_ms;
      fds[i].fd = flight[i].fd;
      fds[i].events = flight[i].connected ? POLLIN : POLLOUT;
      fds[i].revents = 0;
    }
    int wait = wake > now ? (int)(wake - now) : 0;
    if (poll(fds, (nfds_t)active, wait) < 0 && errno != EINTR) {
      perror("testserver: poll");
      return 1;
    }
    now = now_ms();
    for (int i = 0; i < active; i++) {
      struct request *r = &flight[i];
      enum outcome result = PENDING;
      if (fds[i].revents && !r->connected) {
        int error = 0;
        socklen_t error_len = sizeof error;
        getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
        if (error != 0) {
          result = outcome_of_errno(error);
        } else if (send(r->fd, request_text, (size_t)request_len, MSG_NOSIGNAL) != request_len) {
          result = outcome_of_errno(errno);
        } else {
          r->connected = 1;
        }
      } else if (fds[i].revents) {
        ssize_t n = recv(r->fd, r->buffer + r->used, sizeof r->buffer - 1 - r->used, 0);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          result = outcome_of_errno(errno);
        } else if (n >= 0) {
          r->used += (size_t)n;
          r->buffer[r->used] = '\0';
          // The status line is all we judge; the headers' end, a full buffer
          // or the peer's close ends the request.
          if (n == 0 || strstr(r->buffer, "\r\n\r\n") || r->used == sizeof r->buffer - 1)
            result = outcome_of_answer(r);
        }
      }
      if (result == PENDING && now >= r->deadline_ms) result = TIMEOUT;
      if (result != PENDING) {
        outcomes[r->index] = (unsigned char)result;
        close(r->fd);
        done++;
        flight[i] = flight[--active];
        fds[i] = fds[active];
        i--;  // the moved one is judged next, on its own revents
      }
    }
  }
  double elapsed = (double)(now_ms() - t0) / 1000;

  // Runs of failures in the order the requests were started.
  int totals[OUTCOMES] = {0}, longest = 0, runs = 0;
  for (int i = 0; i < count; i++) totals[outcomes[i]]++;
  for (int i = 0; i < count; i++) {
    if (outcomes[i] == OK) continue;
    int end = i;
    while (end + 1 < count && outcomes[end + 1] != OK) end++;
    int length = end - i + 1;
    if (length > longest) longest = length;
    runs++;
    printf("load: failed #%d..#%d (%d, %.1f s from %.1f s), first: %s\n", i, end, length,
           (double)length / rate, (double)i / rate, outcome_names[outcomes[i]]);
    i = end;
  }
  printf("load: requests=%d ok=%d non200=%d refused=%d timeout=%d reset=%d other=%d "
         "failure_runs=%d longest_failure_run=%d success_pct=%.3f elapsed_s=%.1f\n",
         count, totals[OK], totals[NON_200], totals[REFUSED], totals[TIMEOUT], totals[RESET],
         totals[OTHER], runs, longest, 100.0 * totals[OK] / count, elapsed);
  free(flight);
  free(fds);
  free(outcomes);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  if (strcmp(argv[1], "serve") == 0) return serve(argc - 2, argv + 2);
  if (strcmp(argv[1], "get") == 0) return get(argc - 2, argv + 2);
  if (strcmp(argv[1], "connect") == 0) return connect_only(argc - 2, argv + 2);
  if (strcmp(argv[1], "load") == 0) return load(argc - 2, argv + 2);
  if (strcmp(argv[1], "version") == 0) {
    puts("testserver " TESTSERVER_VERSION);
    return 0;
  }
  usage();
}
