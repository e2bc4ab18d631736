/* One i386 system call (int $0x80: getpid, number 20) in an x86_64 program, then x86_64 socket
   calls: a connection to itself, closed with one unread byte (an RST). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    long pid;
    __asm__ volatile("int $0x80" : "=a"(pid) : "a"(20L) : "memory");
    printf("i386 getpid %ld\n", pid);
    fflush(stdout);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t n = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    bind(l, (void *)&a, n);
    listen(l, 1);
    getsockname(l, (void *)&a, &n);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (void *)&a, n);
    int s = accept(l, 0, 0);
    write(s, "1", 1);
    usleep(100000);
    close(c);
    usleep(100000);
    return 0;
}
