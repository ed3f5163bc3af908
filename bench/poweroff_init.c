/* /init for the bare-QEMU baseline: power off at once. With -no-reboot and
 * reboot=t a reboot makes QEMU exit, the same way runvm-agent stops a VM. */
#include <sys/reboot.h>
#include <unistd.h>

int main(void) {
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}
