/* server.c: starts and stops a meterd child process for the live tests. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define START_TIMEOUT_MS 30000

const char *test_meterd_binary(void)
{
    const char *env = getenv("METERD_BINARY");
    return env && *env ? env : "../../.build/debug/meterd";
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls meterd's stdout file until the "listening on" line; fills tcp_addr. */
static int await_listening(test_server *s, const char *path, pid_t pid)
{
    long long deadline = now_ms() + START_TIMEOUT_MS;
    while (now_ms() < deadline) {
        char buf[4096];
        FILE *f = fopen(path, "r");
        while (f && fgets(buf, sizeof buf, f)) {
            char *line = strstr(buf, "listening on");
            char *tcp = line ? strstr(line, "tcp:") : NULL;
            if (tcp && strchr(tcp, '\n')) {
                size_t k = strcspn(tcp + 4, " \n");
                if (k < sizeof s->tcp_addr) {
                    memcpy(s->tcp_addr, tcp + 4, k);
                    s->tcp_addr[k] = '\0';
                    fclose(f);
                    return 0;
                }
            }
        }
        if (f)
            fclose(f);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = 0; /* meterd exited */
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

int test_server_start(test_server *s)
{
    const char *bin = test_meterd_binary();
    if (access(bin, X_OK) != 0) {
        printf("meterd binary not found or not executable: %s (set METERD_BINARY)\n", bin);
        return -1;
    }
    if (!s->dir[0]) {
        strcpy(s->dir, "/tmp/meterclient-test-XXXXXX");
        if (!mkdtemp(s->dir)) {
            printf("mkdtemp: %s\n", strerror(errno));
            return -1;
        }
    }
    char data[300], sock[300], log[300], out[300];
    snprintf(data, sizeof data, "%s/data", s->dir);
    snprintf(sock, sizeof sock, "%s/meterd.sock", s->dir);
    snprintf(log, sizeof log, "%s/meterd.stderr", s->dir);
    snprintf(out, sizeof out, "%s/meterd.stdout", s->dir);
    unlink(out);
    snprintf(s->unix_addr, sizeof s->unix_addr, "unix:%s", sock);

    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (o >= 0)
            dup2(o, 1);
        if (err >= 0)
            dup2(err, 2);
        const char *argv[20] = {bin, "--data-dir", data, "--socket", sock, "--tcp", "127.0.0.1:0"};
        int argc = 7;
        for (int i = 0; i < 8 && s->extra_args[i]; i++)
            argv[argc++] = s->extra_args[i];
        argv[argc] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    int rc = await_listening(s, out, pid);
    if (rc != 0) {
        printf("meterd did not start (see %s)\n", log);
        test_server_stop(s);
        return -1;
    }
    char key_path[320];
    snprintf(key_path, sizeof key_path, "%s/bootstrap-admin.key", data);
    FILE *key = fopen(key_path, "r");
    if (!key || !fgets(s->api_key, sizeof s->api_key, key)) {
        printf("no bootstrap key at %s\n", key_path);
        if (key)
            fclose(key);
        test_server_stop(s);
        return -1;
    }
    fclose(key);
    s->api_key[strcspn(s->api_key, "\n")] = '\0';
    return 0;
}

int test_server_stop(test_server *s)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int status = 0;
    long long deadline = now_ms() + START_TIMEOUT_MS;
    pid_t r;
    while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        usleep(20000);
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        s->pid = 0;
        return -1;
    }
    s->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void test_server_cleanup(test_server *s)
{
    if (s->pid > 0)
        test_server_stop(s);
    if (s->dir[0] && !getenv("METERD_KEEP_TEST_DIR"))
        nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
