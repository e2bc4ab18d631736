"""A call is reported blocked when the kernel shows it asleep in the call (lab/inkernel.py), not
because a clock ran out: a slow call on a loaded machine or in an emulated guest is not blocked.
(Found by scripts/flakes.sh on a loaded machine: the guest's socket() outlived the 1 s bound and
seed-rst failed with "server is still blocked in socket()".)"""

import queue
import socket
import threading

from tuiexplore.lab import inkernel
from tuiexplore.lab.actors import FromActor, ScriptedActor
from tuiexplore.lab.protocol import ActorRequest, Blocked, Returned


def in_thread(target) -> tuple[threading.Thread, threading.Event]:
    started = threading.Event()

    def run() -> None:
        started.set()
        target()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait()
    return t, started


def end_accept(listener: socket.socket, accepting: threading.Thread) -> None:
    """A client lets the accept() return before the listener closes: closed under it, accept()
    raised in the thread, and pytest pinned that on whichever test ran next."""
    with socket.create_connection(listener.getsockname()):
        accepting.join(5)
    listener.close()


def wait_for(cond) -> bool:
    done = threading.Event()
    for _ in range(500):
        if cond():
            return True
        done.wait(0.01)
    return False


def test_the_kernel_tells_asleep_in_a_call_from_running_and_from_a_lock():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepting, _ = in_thread(lambda: listener.accept())
    assert wait_for(lambda: inkernel.asleep_in_syscall(accepting.native_id)), "accept() with no client sleeps"

    lock = threading.Lock()
    lock.acquire()
    waiting, _ = in_thread(lock.acquire)
    stop = threading.Event()
    spinning, _ = in_thread(lambda: [None for _ in iter(stop.is_set, True)])
    try:
        for _ in range(20):  # sampled many times: never "asleep in a call"
            assert not inkernel.asleep_in_syscall(waiting.native_id), "a lock wait (futex) is not a blocked call"
            assert not inkernel.asleep_in_syscall(spinning.native_id), "a running thread is not blocked"
    finally:
        stop.set()
        lock.release()
        end_accept(listener, accepting)


def test_a_slow_call_that_never_sleeps_is_waited_for_and_a_sleeping_one_is_blocked():
    """What a loaded machine or an emulated guest does to a call: it runs long past its bound
    without ever sleeping. blocked() waits for it (False) instead of reporting it blocked."""
    done = threading.Event()

    def slow() -> None:
        end = threading.Event()
        t = threading.Timer(0.3, end.set)
        t.start()
        while not end.is_set():  # 0.3 s of running, no sleep in the kernel
            pass
        done.set()

    worker, _ = in_thread(slow)
    assert inkernel.blocked(worker.native_id, done) is False and done.is_set()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepting, _ = in_thread(lambda: listener.accept())
    try:
        assert inkernel.blocked(accepting.native_id, threading.Event()) is True
    finally:
        end_accept(listener, accepting)


def answers(a: ScriptedActor, replies: queue.Queue, req: ActorRequest) -> object:
    a.send(req)
    got = replies.get(timeout=30)
    assert isinstance(got, FromActor)
    return got.reply


def test_an_actor_says_blocked_only_for_a_call_that_sleeps_in_the_kernel():
    """With no time allowed at all (block_s 0), socket(), bind() and listen() still return: they
    never sleep. accept() with no client sleeps: Blocked."""
    replies: queue.Queue = queue.Queue()
    a = ScriptedActor("server", replies.put)
    try:
        for n, (call, args) in enumerate(
            [("socket", {"as": "l"}), ("bind", {"fd": "l", "port": 0}), ("listen", {"fd": "l", "backlog": 1})], 1
        ):
            reply = answers(a, replies, ActorRequest(n, call, args, block_s=0.0))
            assert isinstance(reply, Returned) and reply.errno is None, (call, reply)
        reply = answers(a, replies, ActorRequest(4, "accept", {"fd": "l", "as": "c"}, block_s=0.0))
        assert isinstance(reply, Blocked)
    finally:
        a.kill()
