/* divzero: an integer division by zero kills the process with SIGFPE.
 * Expected: killed by signal 8 (runner status 136). */
#include <unistd.h>

int main(int argc, char **argv)
{
    (void)argv;
    static const char msg[] = "about to divide by zero\n";
    write(1, msg, sizeof msg - 1);
    volatile int zero = argc - 1; /* 0 when run without arguments */
    volatile int q = 100 / zero;
    static const char after[] = "still alive after dividing by zero\n";
    write(1, after, sizeof after - 1);
    return q;
}
