/* sendmmsg of two UDP datagrams and recvmmsg of both, over loopback. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(rx, (struct sockaddr *)&a, sizeof(a));
    getsockname(rx, (struct sockaddr *)&a, &len);
    connect(tx, (struct sockaddr *)&a, sizeof(a));
    struct iovec out[2] = {{"one", 3}, {"two\n", 4}};
    struct mmsghdr send[2];
    memset(send, 0, sizeof(send));
    for (int i = 0; i < 2; i++) {
        send[i].msg_hdr.msg_iov = &out[i];
        send[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(tx, send, 2, 0);
    char b0[16], b1[16];
    struct iovec in[2] = {{b0, sizeof(b0)}, {b1, sizeof(b1)}};
    struct mmsghdr recv[2];
    memset(recv, 0, sizeof(recv));
    for (int i = 0; i < 2; i++) {
        recv[i].msg_hdr.msg_iov = &in[i];
        recv[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(rx, recv, 2, MSG_WAITFORONE, NULL);
    printf("sent %d got %d\n", sent, got);
    close(tx);
    close(rx);
    return 0;
}
