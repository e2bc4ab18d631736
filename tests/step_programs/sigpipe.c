/* Writes to a connection whose peer has closed: bare, the second write raises SIGPIPE and the
   default action kills it (exit status 141 in a shell). Exit 3 means SIGPIPE was ignored. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t n = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    bind(l, (void *)&a, n);
    listen(l, 1);
    getsockname(l, (void *)&a, &n);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (void *)&a, n);
    close(accept(l, 0, 0));
    usleep(100000);
    for (int i = 0; i < 200; i++) write(c, "x", 1);
    return 3;
}
