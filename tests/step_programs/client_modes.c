/* A client for the step tests: client_modes PORT MODE, MODE one of
 *   clean    connect, close                          -> FIN
 *   linger0  connect, SO_LINGER {1,0}, close         -> RST (linger_zero)
 *   unread   connect, wait for the peer's data, close -> RST (data_was_unread)
 *   fork     connect, fork; the parent closes at once (nothing is sent: the child still holds
 *            the socket), the child sleeps 0.3 s and exits (its exit sends the FIN)
 *   segv     connect, wait for the peer's data, then die of SIGSEGV (no core file)
 *   sigkill  connect, wait for the peer's data, then SIGKILL itself */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(atoi(argv[1]));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("connect");
        return 1;
    }
    const char *mode = argv[2];
    if (!strcmp(mode, "linger0")) {
        struct linger l = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    } else if (!strcmp(mode, "unread") || !strcmp(mode, "segv") || !strcmp(mode, "sigkill")) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 2000);
        if (!strcmp(mode, "segv")) {
            struct rlimit none = {0, 0};
            setrlimit(RLIMIT_CORE, &none);
            raise(SIGSEGV);
        }
        if (!strcmp(mode, "sigkill"))
            raise(SIGKILL);
    } else if (!strcmp(mode, "fork")) {
        pid_t child = fork();
        if (child == 0) {
            usleep(300000);
            _exit(0);
        }
        close(fd);
        waitpid(child, NULL, 0);
        printf("parent done\n");
        return 0;
    }
    close(fd);
    printf("client %s done\n", mode);
    return 0;
}
