// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * x86-64 syscall table and blocking-call classification. The table was
 * generated once from asm/unistd_64.h (Linux 6.x) plus 451-467 from the
 * kernel's syscall_64.tbl:
 *   awk '/#define __NR_/{print $3, substr($2,6)}' unistd_64.h | sort -n
 */
#include <stddef.h>
#include <linux/types.h>
#include "asyncprof.h"
#include "syscalls.h"

static const char *const syscall_names[] = {
	[0] = "read",
	[1] = "write",
	[2] = "open",
	[3] = "close",
	[4] = "stat",
	[5] = "fstat",
	[6] = "lstat",
	[7] = "poll",
	[8] = "lseek",
	[9] = "mmap",
	[10] = "mprotect",
	[11] = "munmap",
	[12] = "brk",
	[13] = "rt_sigaction",
	[14] = "rt_sigprocmask",
	[15] = "rt_sigreturn",
	[16] = "ioctl",
	[17] = "pread64",
	[18] = "pwrite64",
	[19] = "readv",
	[20] = "writev",
	[21] = "access",
	[22] = "pipe",
	[23] = "select",
	[24] = "sched_yield",
	[25] = "mremap",
	[26] = "msync",
	[27] = "mincore",
	[28] = "madvise",
	[29] = "shmget",
	[30] = "shmat",
	[31] = "shmctl",
	[32] = "dup",
	[33] = "dup2",
	[34] = "pause",
	[35] = "nanosleep",
	[36] = "getitimer",
	[37] = "alarm",
	[38] = "setitimer",
	[39] = "getpid",
	[40] = "sendfile",
	[41] = "socket",
	[42] = "connect",
	[43] = "accept",
	[44] = "sendto",
	[45] = "recvfrom",
	[46] = "sendmsg",
	[47] = "recvmsg",
	[48] = "shutdown",
	[49] = "bind",
	[50] = "listen",
	[51] = "getsockname",
	[52] = "getpeername",
	[53] = "socketpair",
	[54] = "setsockopt",
	[55] = "getsockopt",
	[56] = "clone",
	[57] = "fork",
	[58] = "vfork",
	[59] = "execve",
	[60] = "exit",
	[61] = "wait4",
	[62] = "kill",
	[63] = "uname",
	[64] = "semget",
	[65] = "semop",
	[66] = "semctl",
	[67] = "shmdt",
	[68] = "msgget",
	[69] = "msgsnd",
	[70] = "msgrcv",
	[71] = "msgctl",
	[72] = "fcntl",
	[73] = "flock",
	[74] = "fsync",
	[75] = "fdatasync",
	[76] = "truncate",
	[77] = "ftruncate",
	[78] = "getdents",
	[79] = "getcwd",
	[80] = "chdir",
	[81] = "fchdir",
	[82] = "rename",
	[83] = "mkdir",
	[84] = "rmdir",
	[85] = "creat",
	[86] = "link",
	[87] = "unlink",
	[88] = "symlink",
	[89] = "readlink",
	[90] = "chmod",
	[91] = "fchmod",
	[92] = "chown",
	[93] = "fchown",
	[94] = "lchown",
	[95] = "umask",
	[96] = "gettimeofday",
	[97] = "getrlimit",
	[98] = "getrusage",
	[99] = "sysinfo",
	[100] = "times",
	[101] = "ptrace",
	[102] = "getuid",
	[103] = "syslog",
	[104] = "getgid",
	[105] = "setuid",
	[106] = "setgid",
	[107] = "geteuid",
	[108] = "getegid",
	[109] = "setpgid",
	[110] = "getppid",
	[111] = "getpgrp",
	[112] = "setsid",
	[113] = "setreuid",
	[114] = "setregid",
	[115] = "getgroups",
	[116] = "setgroups",
	[117] = "setresuid",
	[118] = "getresuid",
	[119] = "setresgid",
	[120] = "getresgid",
	[121] = "getpgid",
	[122] = "setfsuid",
	[123] = "setfsgid",
	[124] = "getsid",
	[125] = "capget",
	[126] = "capset",
	[127] = "rt_sigpending",
	[128] = "rt_sigtimedwait",
	[129] = "rt_sigqueueinfo",
	[130] = "rt_sigsuspend",
	[131] = "sigaltstack",
	[132] = "utime",
	[133] = "mknod",
	[134] = "uselib",
	[135] = "personality",
	[136] = "ustat",
	[137] = "statfs",
	[138] = "fstatfs",
	[139] = "sysfs",
	[140] = "getpriority",
	[141] = "setpriority",
	[142] = "sched_setparam",
	[143] = "sched_getparam",
	[144] = "sched_setscheduler",
	[145] = "sched_getscheduler",
	[146] = "sched_get_priority_max",
	[147] = "sched_get_priority_min",
	[148] = "sched_rr_get_interval",
	[149] = "mlock",
	[150] = "munlock",
	[151] = "mlockall",
	[152] = "munlockall",
	[153] = "vhangup",
	[154] = "modify_ldt",
	[155] = "pivot_root",
	[156] = "_sysctl",
	[157] = "prctl",
	[158] = "arch_prctl",
	[159] = "adjtimex",
	[160] = "setrlimit",
	[161] = "chroot",
	[162] = "sync",
	[163] = "acct",
	[164] = "settimeofday",
	[165] = "mount",
	[166] = "umount2",
	[167] = "swapon",
	[168] = "swapoff",
	[169] = "reboot",
	[170] = "sethostname",
	[171] = "setdomainname",
	[172] = "iopl",
	[173] = "ioperm",
	[174] = "create_module",
	[175] = "init_module",
	[176] = "delete_module",
	[177] = "get_kernel_syms",
	[178] = "query_module",
	[179] = "quotactl",
	[180] = "nfsservctl",
	[181] = "getpmsg",
	[182] = "putpmsg",
	[183] = "afs_syscall",
	[184] = "tuxcall",
	[185] = "security",
	[186] = "gettid",
	[187] = "readahead",
	[188] = "setxattr",
	[189] = "lsetxattr",
	[190] = "fsetxattr",
	[191] = "getxattr",
	[192] = "lgetxattr",
	[193] = "fgetxattr",
	[194] = "listxattr",
	[195] = "llistxattr",
	[196] = "flistxattr",
	[197] = "removexattr",
	[198] = "lremovexattr",
	[199] = "fremovexattr",
	[200] = "tkill",
	[201] = "time",
	[202] = "futex",
	[203] = "sched_setaffinity",
	[204] = "sched_getaffinity",
	[205] = "set_thread_area",
	[206] = "io_setup",
	[207] = "io_destroy",
	[208] = "io_getevents",
	[209] = "io_submit",
	[210] = "io_cancel",
	[211] = "get_thread_area",
	[212] = "lookup_dcookie",
	[213] = "epoll_create",
	[214] = "epoll_ctl_old",
	[215] = "epoll_wait_old",
	[216] = "remap_file_pages",
	[217] = "getdents64",
	[218] = "set_tid_address",
	[219] = "restart_syscall",
	[220] = "semtimedop",
	[221] = "fadvise64",
	[222] = "timer_create",
	[223] = "timer_settime",
	[224] = "timer_gettime",
	[225] = "timer_getoverrun",
	[226] = "timer_delete",
	[227] = "clock_settime",
	[228] = "clock_gettime",
	[229] = "clock_getres",
	[230] = "clock_nanosleep",
	[231] = "exit_group",
	[232] = "epoll_wait",
	[233] = "epoll_ctl",
	[234] = "tgkill",
	[235] = "utimes",
	[236] = "vserver",
	[237] = "mbind",
	[238] = "set_mempolicy",
	[239] = "get_mempolicy",
	[240] = "mq_open",
	[241] = "mq_unlink",
	[242] = "mq_timedsend",
	[243] = "mq_timedreceive",
	[244] = "mq_notify",
	[245] = "mq_getsetattr",
	[246] = "kexec_load",
	[247] = "waitid",
	[248] = "add_key",
	[249] = "request_key",
	[250] = "keyctl",
	[251] = "ioprio_set",
	[252] = "ioprio_get",
	[253] = "inotify_init",
	[254] = "inotify_add_watch",
	[255] = "inotify_rm_watch",
	[256] = "migrate_pages",
	[257] = "openat",
	[258] = "mkdirat",
	[259] = "mknodat",
	[260] = "fchownat",
	[261] = "futimesat",
	[262] = "newfstatat",
	[263] = "unlinkat",
	[264] = "renameat",
	[265] = "linkat",
	[266] = "symlinkat",
	[267] = "readlinkat",
	[268] = "fchmodat",
	[269] = "faccessat",
	[270] = "pselect6",
	[271] = "ppoll",
	[272] = "unshare",
	[273] = "set_robust_list",
	[274] = "get_robust_list",
	[275] = "splice",
	[276] = "tee",
	[277] = "sync_file_range",
	[278] = "vmsplice",
	[279] = "move_pages",
	[280] = "utimensat",
	[281] = "epoll_pwait",
	[282] = "signalfd",
	[283] = "timerfd_create",
	[284] = "eventfd",
	[285] = "fallocate",
	[286] = "timerfd_settime",
	[287] = "timerfd_gettime",
	[288] = "accept4",
	[289] = "signalfd4",
	[290] = "eventfd2",
	[291] = "epoll_create1",
	[292] = "dup3",
	[293] = "pipe2",
	[294] = "inotify_init1",
	[295] = "preadv",
	[296] = "pwritev",
	[297] = "rt_tgsigqueueinfo",
	[298] = "perf_event_open",
	[299] = "recvmmsg",
	[300] = "fanotify_init",
	[301] = "fanotify_mark",
	[302] = "prlimit64",
	[303] = "name_to_handle_at",
	[304] = "open_by_handle_at",
	[305] = "clock_adjtime",
	[306] = "syncfs",
	[307] = "sendmmsg",
	[308] = "setns",
	[309] = "getcpu",
	[310] = "process_vm_readv",
	[311] = "process_vm_writev",
	[312] = "kcmp",
	[313] = "finit_module",
	[314] = "sched_setattr",
	[315] = "sched_getattr",
	[316] = "renameat2",
	[317] = "seccomp",
	[318] = "getrandom",
	[319] = "memfd_create",
	[320] = "kexec_file_load",
	[321] = "bpf",
	[322] = "execveat",
	[323] = "userfaultfd",
	[324] = "membarrier",
	[325] = "mlock2",
	[326] = "copy_file_range",
	[327] = "preadv2",
	[328] = "pwritev2",
	[329] = "pkey_mprotect",
	[330] = "pkey_alloc",
	[331] = "pkey_free",
	[332] = "statx",
	[333] = "io_pgetevents",
	[334] = "rseq",
	[335] = "uretprobe",
	[336] = "uprobe",
	[424] = "pidfd_send_signal",
	[425] = "io_uring_setup",
	[426] = "io_uring_enter",
	[427] = "io_uring_register",
	[428] = "open_tree",
	[429] = "move_mount",
	[430] = "fsopen",
	[431] = "fsconfig",
	[432] = "fsmount",
	[433] = "fspick",
	[434] = "pidfd_open",
	[435] = "clone3",
	[436] = "close_range",
	[437] = "openat2",
	[438] = "pidfd_getfd",
	[439] = "faccessat2",
	[440] = "process_madvise",
	[441] = "epoll_pwait2",
	[442] = "mount_setattr",
	[443] = "quotactl_fd",
	[444] = "landlock_create_ruleset",
	[445] = "landlock_add_rule",
	[446] = "landlock_restrict_self",
	[447] = "memfd_secret",
	[448] = "process_mrelease",
	[449] = "futex_waitv",
	[450] = "set_mempolicy_home_node",
	[451] = "cachestat",
	[452] = "fchmodat2",
	[453] = "map_shadow_stack",
	[454] = "futex_wake",
	[455] = "futex_wait",
	[456] = "futex_requeue",
	[457] = "statmount",
	[458] = "listmount",
	[459] = "lsm_get_self_attr",
	[460] = "lsm_set_self_attr",
	[461] = "lsm_list_modules",
	[462] = "mseal",
	[463] = "setxattrat",
	[464] = "getxattrat",
	[465] = "listxattrat",
	[466] = "removexattrat",
	[467] = "open_tree_attr",
};

/* The x86-64 numbers classified below. */
enum {
	X64_read = 0,
	X64_write = 1,
	X64_open = 2,
	X64_close = 3,
	X64_stat = 4,
	X64_fstat = 5,
	X64_lstat = 6,
	X64_poll = 7,
	X64_lseek = 8,
	X64_pread64 = 17,
	X64_pwrite64 = 18,
	X64_readv = 19,
	X64_writev = 20,
	X64_access = 21,
	X64_select = 23,
	X64_pause = 34,
	X64_nanosleep = 35,
	X64_sendfile = 40,
	X64_socket = 41,
	X64_connect = 42,
	X64_accept = 43,
	X64_sendto = 44,
	X64_recvfrom = 45,
	X64_sendmsg = 46,
	X64_recvmsg = 47,
	X64_shutdown = 48,
	X64_bind = 49,
	X64_listen = 50,
	X64_getsockname = 51,
	X64_getpeername = 52,
	X64_socketpair = 53,
	X64_setsockopt = 54,
	X64_getsockopt = 55,
	X64_clone = 56,
	X64_fork = 57,
	X64_vfork = 58,
	X64_execve = 59,
	X64_wait4 = 61,
	X64_fcntl = 72,
	X64_flock = 73,
	X64_fsync = 74,
	X64_fdatasync = 75,
	X64_truncate = 76,
	X64_ftruncate = 77,
	X64_getdents = 78,
	X64_rename = 82,
	X64_mkdir = 83,
	X64_rmdir = 84,
	X64_creat = 85,
	X64_link = 86,
	X64_unlink = 87,
	X64_symlink = 88,
	X64_readlink = 89,
	X64_sync = 162,
	X64_futex = 202,
	X64_getdents64 = 217,
	X64_clock_nanosleep = 230,
	X64_epoll_wait = 232,
	X64_waitid = 247,
	X64_openat = 257,
	X64_mkdirat = 258,
	X64_newfstatat = 262,
	X64_unlinkat = 263,
	X64_renameat = 264,
	X64_linkat = 265,
	X64_symlinkat = 266,
	X64_readlinkat = 267,
	X64_faccessat = 269,
	X64_pselect6 = 270,
	X64_ppoll = 271,
	X64_splice = 275,
	X64_tee = 276,
	X64_sync_file_range = 277,
	X64_epoll_pwait = 281,
	X64_fallocate = 285,
	X64_accept4 = 288,
	X64_preadv = 295,
	X64_pwritev = 296,
	X64_recvmmsg = 299,
	X64_syncfs = 306,
	X64_sendmmsg = 307,
	X64_renameat2 = 316,
	X64_execveat = 322,
	X64_copy_file_range = 326,
	X64_preadv2 = 327,
	X64_pwritev2 = 328,
	X64_statx = 332,
	X64_clone3 = 435,
	X64_close_range = 436,
	X64_openat2 = 437,
	X64_faccessat2 = 439,
	X64_epoll_pwait2 = 441,
	X64_futex_waitv = 449,
	X64_futex_wake = 454,
	X64_futex_wait = 455,
	X64_futex_requeue = 456,
};

/* fcntl commands that wait for a lock, x86-64 values. */
#define X64_F_SETLKW	 7
#define X64_F_OFD_SETLKW 38

const char *syscalls__name(unsigned nr)
{
	if (nr >= sizeof(syscall_names) / sizeof(syscall_names[0]))
		return NULL;
	return syscall_names[nr];
}

bool syscalls__is_poll(unsigned nr)
{
	return nr == X64_epoll_wait || nr == X64_epoll_pwait || nr == X64_epoll_pwait2;
}

/* read/write family: the kind follows the descriptor. */
static const char *kind_of_fd(unsigned fd_type)
{
	switch (fd_type) {
	case AP_FD_REG:
	case AP_FD_CHR:
		return "file";
	case AP_FD_SOCK:
		return "net";
	default:
		return "other";
	}
}

static const char *kind_io(unsigned nr, unsigned fd_type)
{
	switch (nr) {
	case X64_read:
	case X64_write:
	case X64_pread64:
	case X64_pwrite64:
	case X64_readv:
	case X64_writev:
	case X64_preadv:
	case X64_pwritev:
	case X64_preadv2:
	case X64_pwritev2:
	case X64_sendfile:
	case X64_splice:
	case X64_tee:
	case X64_copy_file_range:
		return kind_of_fd(fd_type);
	case X64_open:
	case X64_openat:
	case X64_openat2:
	case X64_creat:
	case X64_stat:
	case X64_fstat:
	case X64_lstat:
	case X64_newfstatat:
	case X64_statx:
	case X64_access:
	case X64_faccessat:
	case X64_faccessat2:
	case X64_fsync:
	case X64_fdatasync:
	case X64_sync:
	case X64_syncfs:
	case X64_sync_file_range:
	case X64_unlink:
	case X64_unlinkat:
	case X64_rename:
	case X64_renameat:
	case X64_renameat2:
	case X64_mkdir:
	case X64_mkdirat:
	case X64_rmdir:
	case X64_link:
	case X64_linkat:
	case X64_symlink:
	case X64_symlinkat:
	case X64_readlink:
	case X64_readlinkat:
	case X64_getdents:
	case X64_getdents64:
	case X64_truncate:
	case X64_ftruncate:
	case X64_fallocate:
	case X64_lseek:
	case X64_close:
	case X64_close_range:
		return "file";
	default:
		return "other";
	}
}

const char *syscalls__kind(unsigned nr, unsigned fd_type, const unsigned long long args[3])
{
	switch (nr) {
	case X64_nanosleep:
	case X64_clock_nanosleep:
	case X64_pause:
		return "sleep";
	case X64_select:
	case X64_pselect6:
		return args[0] == 0 ? "sleep" : "net";
	case X64_poll:
	case X64_ppoll:
		return args[1] == 0 ? "sleep" : "net";
	case X64_epoll_wait:
	case X64_epoll_pwait:
	case X64_epoll_pwait2:
	case X64_connect:
	case X64_accept:
	case X64_accept4:
	case X64_sendto:
	case X64_recvfrom:
	case X64_sendmsg:
	case X64_recvmsg:
	case X64_sendmmsg:
	case X64_recvmmsg:
	case X64_shutdown:
	case X64_socket:
	case X64_socketpair:
	case X64_bind:
	case X64_listen:
	case X64_getsockname:
	case X64_getpeername:
	case X64_setsockopt:
	case X64_getsockopt:
		return "net";
	case X64_futex:
	case X64_futex_waitv:
	case X64_futex_wake:
	case X64_futex_wait:
	case X64_futex_requeue:
	case X64_flock:
		return "lock";
	case X64_fcntl:
		return args[1] == X64_F_SETLKW || args[1] == X64_F_OFD_SETLKW ? "lock" : "other";
	case X64_wait4:
	case X64_waitid:
	case X64_clone:
	case X64_clone3:
	case X64_fork:
	case X64_vfork:
	case X64_execve:
	case X64_execveat:
		return "process";
	default:
		return kind_io(nr, fd_type);
	}
}
