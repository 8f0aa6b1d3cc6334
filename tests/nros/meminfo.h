/* Shared by the NrOS-specific test programs: free physical memory in kB
 * as /proc/meminfo reports it (the kernel brings every replica up to date
 * before counting), or -1. */
#include <stdio.h>

static long memfree(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemFree: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}
