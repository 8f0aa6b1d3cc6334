/* An empty path means "the descriptor itself" in NrOS's chmod/fchmodat/
 * utimensat: chmod("", m) fails with EBADF (AT_FDCWD is no descriptor) and
 * fchmodat(fd, "", m, 0) changes fd's file. Linux: ENOENT for an empty
 * path (fchmodat has no AT_EMPTY_PATH; utimensat takes a NULL path for
 * that). Found by: fuzz summaries ("chmod ... EBADF:14").
 * Expected (Linux):
 *   chmod("") = -1 errno 2
 *   fchmodat(fd, "", 0600, 0) = -1 errno 2
 *   utimensat(AT_FDCWD, "", NULL, 0) = -1 errno 2 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    int fd = open("/tmp/chmod-empty", O_CREAT | O_RDWR, 0644);
    long r = syscall(SYS_chmod, "", 0600);
    printf("chmod(\"\") = %ld errno %d\n", r, r ? errno : 0);
    r = syscall(SYS_fchmodat, fd, "", 0600, 0);
    printf("fchmodat(fd, \"\", 0600, 0) = %ld errno %d\n", r, r ? errno : 0);
    r = syscall(SYS_utimensat, AT_FDCWD, "", 0, 0);
    printf("utimensat(AT_FDCWD, \"\", NULL, 0) = %ld errno %d\n", r, r ? errno : 0);
    unlink("/tmp/chmod-empty");
    return 0;
}
