/* A host-side file as it must not be written: Linux-only calls with no
 * fallback. tools/check-macos must reject it (tests/macos/test_check_macos.sh),
 * which proves the check can fail. Never built by meson. */
#include <sys/prctl.h>
#include <sys/socket.h>

int linux_only_accept (int fd);

int
linux_only_accept (int fd)
{
  prctl (PR_SET_PDEATHSIG, 9);
  return accept4 (fd, 0, 0, SOCK_CLOEXEC | SOCK_NONBLOCK);
}
