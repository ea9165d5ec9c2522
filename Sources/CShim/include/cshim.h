#ifndef STEADY_CSHIM_H
#define STEADY_CSHIM_H

// What Swift's Glibc module lacks: _GNU_SOURCE-only calls and structs, and the wait-status
// macros. Every function returns -1 and leaves errno set on failure, like the call it wraps.

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdint.h>

typedef struct steady_ucred {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
} steady_ucred;

int steady_peer_credentials(int fd, steady_ucred *out);
/// The peer's supplementary groups (SO_PEERGROUPS): up to `max` into `out`; returns the count.
int steady_peer_groups(int fd, uint32_t *out, int max);
int steady_accept4_cloexec(int fd);
int steady_pipe2_cloexec(int fds[2]);
int steady_pidfd_open(pid_t pid);
int steady_pidfd_send_signal(int pidfd, int sig);
int steady_signalfd_block(const int *signals, int count);
int steady_signalfd_read(int fd, uint32_t *signo);
int steady_unblock_signals(const int *signals, int count);
int steady_prlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard);
int steady_timerfd_create(void);
int steady_timerfd_arm_ms(int fd, int64_t ms);
int steady_set_pdeathsig(int sig);

/// Spawns `path` with `argv`/`envp`: `keep_fds[i]` lands on fd `3 + i`, stdio fds on 0/1/2
/// (-1 keeps the parent's), every other fd closed, own session, empty signal mask, default
/// dispositions. Returns 0 and the pid, or the errno of the failed exec/spawn.
int steady_spawn(const char *path, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd,
                 const int *keep_fds, int keep_count, pid_t *pid_out);

/// Binds a datagram socket at `path` with SO_PASSCRED (a stand-in for systemd's notify socket).
int steady_bind_datagram_passcred(const char *path);
/// Receives one datagram and its sender's pid (SCM_CREDENTIALS). Returns the byte count.
long steady_recv_with_pid(int fd, void *buf, unsigned long len, int32_t *pid_out);

/// The most descriptors one message carries (SCM_MAX_FD is 253; we need far fewer).
#define STEADY_MAX_PASSED_FDS 64

/// Sends `len` bytes with `nfds` descriptors (at most STEADY_MAX_PASSED_FDS) attached to the
/// first byte (SCM_RIGHTS), MSG_NOSIGNAL | MSG_DONTWAIT. Returns the byte count sent.
long steady_send_with_fds(int fd, const void *buf, unsigned long len, const int *fds, int nfds);
/// Receives up to `len` bytes (`flags` as for recvmsg, MSG_CMSG_CLOEXEC and MSG_DONTWAIT
/// added) and up to `max_fds` descriptors (at most STEADY_MAX_PASSED_FDS) into `fds_out`,
/// their count into `nfds_out`. `msg_flags_out` gets the message flags (MSG_CTRUNC: more
/// descriptors came than fitted, and the kernel closed the rest). Returns recvmsg's count.
long steady_recv_with_fds(int fd, void *buf, unsigned long len, int flags, int *fds_out, int max_fds,
                          int *nfds_out, int *msg_flags_out);

int steady_wifexited(int status);
int steady_wexitstatus(int status);
int steady_wifsignaled(int status);
int steady_wtermsig(int status);

#endif
