// The pod sandbox's first process: it holds the pod's namespaces open and
// does nothing else. As PID 1 of the pod it also reaps zombies (children
// re-parented to it when processes share the PID namespace) and exits
// promptly on SIGTERM/SIGINT, since PID 1 gets no default signal handling.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_terminate(int signo) {
  (void)signo;
  _exit(0);
}

static void on_child(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (sreracha) " PAUSE_VERSION);
    return 0;
  }
  if (getpid() != 1) {
    // Not fatal: containerd's tests and a curious user may run it by hand.
    fprintf(stderr, "pause: warning: not PID 1, zombies are not mine to reap\n");
  }
  struct sigaction terminate = {.sa_handler = on_terminate};
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (sigaction(SIGTERM, &terminate, NULL) < 0 || sigaction(SIGINT, &terminate, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
