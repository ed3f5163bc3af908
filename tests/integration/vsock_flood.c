/* A hostile guest program for tests/integration/fault_test.cc (static, so
 * any rootfs can hold it): storms the host's vsock device with connection
 * requests, as a guest that wants to exhaust the shim would.
 *
 *   vsock-flood <seconds>   for that long, opens nonblocking AF_VSOCK
 *                           streams to the host (CID 2), alternating the
 *                           agent's port 1024 (taken: the shim serves it
 *                           once) and ports nobody listens on, keeping up
 *                           to 512 half-open at once (the oldest closed to
 *                           make room); then prints "<attempts> attempts"
 *                           and exits 0.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELD 512

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: vsock-flood SECONDS\n");
    return 2;
  }
  time_t end = time(NULL) + atoi(argv[1]);
  int held[HELD];
  for (int i = 0; i < HELD; ++i) held[i] = -1;
  unsigned long attempts = 0;
  unsigned port = 1024;
  for (int slot = 0; time(NULL) < end; slot = (slot + 1) % HELD) {
    if (held[slot] >= 0) close(held[slot]);
    held[slot] = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (held[slot] < 0) {
      usleep(1000);
      continue;
    }
    struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = port};
    (void)connect(held[slot], (struct sockaddr*)&addr, sizeof addr);
    ++attempts;
    port = port == 1024 ? 40000 + (unsigned)(attempts % 20000) : 1024;
  }
  printf("%lu attempts\n", attempts);
  return 0;
}
