#define _GNU_SOURCE
#include "cshim.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

int steady_peer_credentials(int fd, steady_ucred *out) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    out->pid = cred.pid;
    out->uid = cred.uid;
    out->gid = cred.gid;
    return 0;
}

int steady_peer_groups(int fd, uint32_t *out, int max) {
    socklen_t len = (socklen_t)(sizeof(gid_t) * (size_t)max);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out, &len) != 0) return -1;
    return (int)(len / sizeof(gid_t));
}

int steady_accept4_cloexec(int fd) {
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int steady_pipe2_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int steady_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int steady_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static int fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
    return 0;
}

int steady_signalfd_block(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int steady_signalfd_read(int fd, uint32_t *signo) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n < 0) return -1;
    if (n != sizeof(info)) { errno = EIO; return -1; }
    *signo = info.ssi_signo;
    return 0;
}

int steady_unblock_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int steady_prlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard) {
    struct rlimit lim = { .rlim_cur = soft, .rlim_max = hard };
    return prlimit(pid, resource, &lim, NULL);
}

int steady_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

int steady_timerfd_arm_ms(int fd, int64_t ms) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof(spec));
    if (ms > 0) {
        spec.it_value.tv_sec = ms / 1000;
        spec.it_value.tv_nsec = (ms % 1000) * 1000000;
    } else if (ms == 0) {
        spec.it_value.tv_nsec = 1; // fire at once
    }
    return timerfd_settime(fd, 0, &spec, NULL);
}

int steady_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int steady_spawn(const char *path, char *const argv[], char *const envp[],
                 int stdin_fd, int stdout_fd, int stderr_fd,
                 const int *keep_fds, int keep_count, pid_t *pid_out) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&fa); return rc; }

    // Move every fd to hand over above the target range first, so that a dup2 onto itself
    // (a no-op that would leave CLOEXEC set) cannot happen.
    int high_base = 100;
    int stdio[3] = { stdin_fd, stdout_fd, stderr_fd };
    for (int i = 0; i < 3 && rc == 0; i++)
        if (stdio[i] >= 0) rc = posix_spawn_file_actions_adddup2(&fa, stdio[i], high_base + i);
    for (int i = 0; i < keep_count && rc == 0; i++)
        rc = posix_spawn_file_actions_adddup2(&fa, keep_fds[i], high_base + 3 + i);
    for (int i = 0; i < 3 && rc == 0; i++)
        if (stdio[i] >= 0) rc = posix_spawn_file_actions_adddup2(&fa, high_base + i, i);
    for (int i = 0; i < keep_count && rc == 0; i++)
        rc = posix_spawn_file_actions_adddup2(&fa, high_base + 3 + i, 3 + i);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3 + keep_count);

    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0) rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    if (rc == 0) rc = posix_spawn(pid_out, path, &fa, &attr, argv, envp);

    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

int steady_bind_datagram_passcred(const char *path) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int on = 1;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr.sun_path)) { close(fd); errno = ENAMETOOLONG; return -1; }
    strcpy(addr.sun_path, path);
    unlink(path);
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

long steady_recv_with_pid(int fd, void *buf, unsigned long len, int32_t *pid_out) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { struct cmsghdr align; char data[CMSG_SPACE(sizeof(struct ucred))]; } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data;
    msg.msg_controllen = sizeof(control.data);
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -1;
    *pid_out = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            *pid_out = cred.pid;
        }
    }
    return n;
}

int steady_wifexited(int status) { return WIFEXITED(status); }
int steady_wexitstatus(int status) { return WEXITSTATUS(status); }
int steady_wifsignaled(int status) { return WIFSIGNALED(status); }
int steady_wtermsig(int status) { return WTERMSIG(status); }

long steady_send_with_fds(int fd, const void *buf, unsigned long len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > STEADY_MAX_PASSED_FDS) { errno = EINVAL; return -1; }
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int) * STEADY_MAX_PASSED_FDS)]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return (long)sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

long steady_recv_with_fds(int fd, void *buf, unsigned long len, int flags, int *fds_out, int max_fds,
                          int *nfds_out, int *msg_flags_out) {
    *nfds_out = 0;
    *msg_flags_out = 0;
    if (max_fds < 0 || max_fds > STEADY_MAX_PASSED_FDS) { errno = EINVAL; return -1; }
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int) * STEADY_MAX_PASSED_FDS)]; struct cmsghdr align; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (max_fds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
    }
    ssize_t n = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) return -1;
    *msg_flags_out = msg.msg_flags;
    int count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int here = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *data = (int *)CMSG_DATA(c);
        for (int i = 0; i < here; i++) {
            if (count < max_fds) fds_out[count++] = data[i];
            else { close(data[i]); *msg_flags_out |= MSG_CTRUNC; }
        }
    }
    *nfds_out = count;
    return (long)n;
}
