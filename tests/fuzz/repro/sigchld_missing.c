/* No SIGCHLD when a child exits: a handler for SIGCHLD never runs, and a
 * parent in pause()/sigsuspend() waiting for it sleeps on (here: nanosleep
 * is not interrupted). Found while diagnosing fuzz seed 1 (200000 calls):
 * the kernel never raises SIGCHLD (only waitid reports it in siginfo).
 * Expected (Linux):
 *   nanosleep = -1 errno 4 (interrupted), SIGCHLD handler ran 1 time(s)
 * NrOS:
 *   nanosleep = 0 errno 0 (interrupted), SIGCHLD handler ran 0 time(s) */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int hits;
static void on_chld(int s) { (void)s; hits++; }

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_chld; /* no SA_RESTART: the sleep is interrupted */
    sigaction(SIGCHLD, &sa, 0);
    if (fork() == 0) {
        /* Exit only once the parent surely sleeps. */
        struct timespec d = {0, 200000000};
        nanosleep(&d, 0);
        _exit(0);
    }
    struct timespec ts = {2, 0};
    int r = nanosleep(&ts, 0);
    printf("nanosleep = %d errno %d (interrupted), SIGCHLD handler ran %d time(s)\n", r, r ? errno : 0, hits);
    wait(0);
    return 0;
}
