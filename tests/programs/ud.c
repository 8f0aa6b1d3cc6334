/* ud: executing ud2 kills the process with SIGILL.
 * Expected: killed by signal 4 (runner status 132). */
#include <unistd.h>

int main(void)
{
    static const char msg[] = "about to execute ud2\n";
    write(1, msg, sizeof msg - 1);
    __asm__ volatile("ud2");
    static const char after[] = "still alive after ud2\n";
    write(1, after, sizeof after - 1);
    return 0;
}
