/* segv: a store to address 0 kills the process with SIGSEGV.
 * Expected: killed by signal 11 (runner status 139). The message before the
 * crash is written with write(2) so that it is not lost in a stdio buffer. */
#include <unistd.h>

int main(void)
{
    static const char msg[] = "about to write to NULL\n";
    write(1, msg, sizeof msg - 1);
    *(volatile int *)0 = 42;
    static const char after[] = "still alive after writing to NULL\n";
    write(1, after, sizeof after - 1);
    return 0;
}
