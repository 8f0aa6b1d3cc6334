/* bigout: a lot of console output: 3000 numbered printf lines, then one
 * 64 KiB write(2) and a writev(2) of 100 pieces, each followed by its return
 * value. Checks that nothing is lost, reordered or translated. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int main(void)
{
    unsigned long sum = 0;
    for (int i = 0; i < 3000; i++) {
        printf("line %04d: %.*s\n", i, i % 70, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+[]{};");
        sum += (unsigned long)i * (i % 70);
    }
    printf("sum %lu\n", sum);
    fflush(stdout);
    static char big[65536];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (i % 64 == 63) ? '\n' : (char)('!' + i % 90);
    ssize_t n = write(1, big, sizeof big);
    char msg[64];
    int len = snprintf(msg, sizeof msg, "write(64 KiB) = %zd\n", n);
    write(1, msg, len);
    struct iovec iov[100];
    char pieces[100][8];
    for (int i = 0; i < 100; i++) {
        snprintf(pieces[i], sizeof pieces[i], "[%02d]%s", i, i % 10 == 9 ? "\n" : "");
        iov[i].iov_base = pieces[i];
        iov[i].iov_len = strlen(pieces[i]);
    }
    n = writev(1, iov, 100);
    len = snprintf(msg, sizeof msg, "writev(100 pieces) = %zd\n", n);
    write(1, msg, len);
    /* bytes that a terminal layer might translate */
    static const char raw[] = "tab\there\rcr\x01\x7f\xc3\xa9\xff end\n";
    write(1, raw, sizeof raw - 1);
    return 0;
}
