/* Shared by the NrOS-specific test programs: numbers read from /proc
 * files, e.g. free physical memory in kB as /proc/meminfo reports it (the
 * kernel brings every replica up to date before counting), or -1. */
#include <stdio.h>

/* The number `fmt` (one %ld) reads from the first matching line of
 * `path`, or -1. */
static long proc_value(const char *path, const char *fmt) {
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, fmt, &v) == 1) break;
    if (f) fclose(f);
    return v;
}

static long memfree(void) { return proc_value("/proc/meminfo", "MemFree: %ld kB"); }
