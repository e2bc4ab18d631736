/* N loopback connections one after another, each ending in two closes: socket, connect,
 * accept, write, read, close (the client's), close (the server's). bench_step.py's
 * network-heavy program: 2N closing calls for `tuiexplore step` to predict and judge. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16) || getsockname(ls, (struct sockaddr *)&a, &len))
        return 1;
    char buf[4];
    for (int i = 0; i < n; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
            return 1;
        int s = accept(ls, NULL, NULL);
        if (s < 0 || write(c, "ping", 4) != 4 || read(s, buf, sizeof(buf)) != 4)
            return 1;
        close(c);
        close(s);
    }
    close(ls);
    return 0;
}
