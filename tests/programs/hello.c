/* hello: printf formatting and argv.
 * Prints the basename of argv[0] (the path differs between host and guest)
 * and every other argument verbatim. The environment is not printed (it
 * differs between host and guest). Exit status 0. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv, char **envp)
{
    (void)envp;
    const char *a0 = argv[0] ? argv[0] : "(null)";
    const char *slash = strrchr(a0, '/');
    printf("hello, world\n");
    printf("argc=%d\n", argc);
    printf("argv[0] basename=%s\n", slash ? slash + 1 : a0);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=\"%s\" (len %zu)\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc]=%s\n", argv[argc] == NULL ? "NULL" : "not NULL");
    printf("fmt: %d %i %u %x %X %o %c %s|%5d|%-5d|%05d|%+d\n", -42, 7, 3000000000u, 0xbeef, 0xbeef, 8, 'z', "str", 42, 42, 42, 42);
    printf("fmt: %ld %lld %llx %zu\n", -1L, 1LL << 62, 0xdeadbeefcafeULL, sizeof(long));
    printf("float: %.3f %10.2f %e %g %g\n", 3.14159265, -2.5, 12345.678, 0.0001, 1e20);
    fflush(stdout);
    fputs("to stdout via fputs\n", stdout);
    return 0;
}
