// The seed's epoll server: accept, then on EPOLLOUT write 1 byte and sleep(1).
// Usage: server [PORT] [--once]   (default 9999)
// The loop body is the original question's (shared/seed/). Two additions make it a complete
// program: a connection reporting EPOLLHUP/EPOLLERR/EPOLLRDHUP is closed after its events are
// printed (the original would write into the reset socket and die of SIGPIPE), and --once exits
// after that first connection is closed, so a test or a demo ends.
#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int port = argc > 1 ? std::atoi(argv[1]) : 9999;
    bool once = argc > 2 && std::strcmp(argv[2], "--once") == 0;
    int sockfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(sockfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr;
    std::memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(sockfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(sockfd, 16) < 0) {
        std::cout << "bind/listen: " << strerror(errno) << std::endl;
        return 1;
    }
    int ep = epoll_create(1);
    struct epoll_event lev;
    lev.events = EPOLLIN;
    lev.data.fd = sockfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sockfd, &lev);
    struct epoll_event events[10];
    struct sockaddr_in client;
    socklen_t len = sizeof(client);
    for (;;) {
        int nev = epoll_wait(ep, events, 10, -1);
        for (int i = 0; i < nev; i++) {
            std::cout << "ready, events: " << std::hex << events[i].events << std::dec << std::endl;
            if (events[i].data.fd == sockfd) {
                int connfd = accept(sockfd, (struct sockaddr *)&client, &len);
                if (connfd < 0) {
                    std::cout << strerror(errno) << std::endl;
                    exit(0);
                }
                std::cout << "accpeted\n";
                struct epoll_event ev;
                ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP;
                ev.data.fd = connfd;
                epoll_ctl(ep, EPOLL_CTL_ADD, connfd, &ev);
            } else if (events[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
                close(events[i].data.fd);
                if (once)
                    return 0;
            } else {
                if (events[i].events & EPOLLOUT) {
                    write(events[i].data.fd, "1", 1);
                    sleep(1);
                }
            }
        }
    }
}
