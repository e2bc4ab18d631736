# An i386 program with no libc: getpid, then exit(7), both through int $0x80.
    .globl _start
    .text
_start:
    movl $20, %eax
    int $0x80
    movl $1, %eax
    movl $7, %ebx
    int $0x80
