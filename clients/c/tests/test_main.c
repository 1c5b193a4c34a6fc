/* test_main.c: runs every test group; the last line is "N passed, N failed". */
#include <stdlib.h>

#include "test.h"

int test_passed, test_failed;

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("== golden vectors\n");
    test_golden();
    printf("== scripted server\n");
    test_fake();
    printf("== live meterd\n");
    test_live();
    printf("== TLS to a live meterd\n");
    test_tls();
    printf("== WatchNotifications on a live meterd\n");
    test_watch();
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed == 0 ? 0 : 1;
}
