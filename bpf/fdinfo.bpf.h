/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a file descriptor of the current task points at, read with CO-RE
 * from its file table: the file type, and the path of a file or the peer
 * of a socket. Only run for syscalls that lasted past the blocking
 * threshold, so cost does not matter much; bounds do.
 */
#ifndef AP_FDINFO_BPF_H
#define AP_FDINFO_BPF_H

#include "common.bpf.h"

#define AP_S_IFMT     00170000
#define AP_S_IFSOCK   0140000
#define AP_S_IFREG    0100000
#define AP_S_IFCHR    0020000
#define AP_S_IFIFO    0010000
#define AP_AF_UNIX    1
#define AP_AF_INET    2
#define AP_AF_INET6   10
#define AP_PATH_DEPTH 20

static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds;
	unsigned int max;
	struct file *f = NULL;

	if (fd < 0)
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline __u32 file_type(struct file *f, umode_t *modep)
{
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);

	*modep = mode;
	switch (mode & AP_S_IFMT) {
	case AP_S_IFREG:
		return AP_FD_REG;
	case AP_S_IFSOCK:
		return AP_FD_SOCK;
	case AP_S_IFIFO:
		return AP_FD_PIPE;
	case AP_S_IFCHR:
		return AP_FD_CHR;
	default:
		return AP_FD_OTHER;
	}
}

/*
 * Path components of f, leaf first, each NUL-terminated, crossing mount
 * points up to the root, into r->detail; sets r->detail_len. Writes at
 * most AP_DETAIL_USE bytes. The path is the one the thread sees, as
 * d_path gives it: it ends at the thread's root (a chroot's, a
 * container's), and a mount is crossed at its own root dentry, which for
 * a bind mount of a directory is not its file system's root.
 *
 * The running length lives in r->detail_len, stored and loaded again each
 * component (volatile: the compiler must not keep it in a register). A
 * value loaded from the record is an unknown scalar to the verifier, so
 * the bounds of the previous components do not reach the loop head, where
 * each iteration then has one state instead of one per possible length:
 * in a register, its precise bounds made this loop 129k of the 131k
 * instructions the verifier processed for ap_sys_exit.
 */
static __always_inline void file_path(struct file *f, struct ap_rec_blocking *r)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
	struct mount *m = container_of(vm, struct mount, mnt);
	struct dentry *root_d = BPF_CORE_READ(task, fs, root.dentry);
	struct vfsmount *root_m = BPF_CORE_READ(task, fs, root.mnt);
	volatile __u32 *lenp = &r->detail_len;
	__u32 off;

	*lenp = 0;
	for (int i = 0; i < AP_PATH_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(d, d_parent);
		const unsigned char *name;
		long n;

		if (d == root_d && &m->mnt == root_m)
			break;
		if (d == parent || d == BPF_CORE_READ(m, mnt.mnt_root)) {
			struct mount *mp = BPF_CORE_READ(m, mnt_parent);

			if (mp == m)
				break;
			d = BPF_CORE_READ(m, mnt_mountpoint);
			m = mp;
			continue;
		}
		off = *lenp;
		if (off >= AP_DETAIL_USE)
			break;
		name = BPF_CORE_READ(d, d_name.name);
		/* off < AP_DETAIL_USE and the buffer is twice that: a constant size is in bounds */
		n = bpf_probe_read_kernel_str(&r->detail[off & (AP_DETAIL_USE - 1)], AP_DETAIL_USE,
					      name);
		if (n <= 0)
			break;
		*lenp = off + n;
		d = parent;
	}
	if (*lenp > AP_DETAIL_MAX)
		*lenp = AP_DETAIL_MAX;
}

/* Peer (or, when unconnected, local) address of an inet socket. */
static __always_inline __u32 sock_addr(struct file *f, __u8 *buf, __u32 *kind)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	struct ap_inet_addr a = {};
	__u16 fam;

	if (!sk)
		return 0;
	fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	a.family = fam;
	if (fam == AP_AF_UNIX) {
		*kind = AP_DETAIL_UNIX;
		return 0;
	}
	if (fam != AP_AF_INET && fam != AP_AF_INET6)
		return 0;
	a.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (fam == AP_AF_INET)
		bpf_core_read(a.addr, 4, &sk->__sk_common.skc_daddr);
	else
		bpf_core_read(a.addr, 16, &sk->__sk_common.skc_v6_daddr);
	if (!a.port) {
		/* not connected (a listener in accept): show the local side */
		a.port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (fam == AP_AF_INET)
			bpf_core_read(a.addr, 4, &sk->__sk_common.skc_rcv_saddr);
		else
			bpf_core_read(a.addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	}
	__builtin_memcpy(buf, &a, sizeof(a));
	*kind = AP_DETAIL_INET;
	return sizeof(a);
}

/* Fill type and detail of a blocking-call record from descriptor fd. */
static __always_inline void fd_describe(int fd, struct ap_rec_blocking *r)
{
	struct file *f = fd_file(fd);
	umode_t mode;

	if (!f)
		return;
	r->fd_type = file_type(f, &mode);
	switch (r->fd_type) {
	case AP_FD_REG:
	case AP_FD_CHR:
		r->detail_kind = AP_DETAIL_PATH;
		file_path(f, r);
		break;
	case AP_FD_SOCK:
		r->detail_len = sock_addr(f, r->detail, &r->detail_kind);
		break;
	case AP_FD_PIPE:
		r->detail_kind = AP_DETAIL_PIPE;
		break;
	}
}

#endif /* AP_FDINFO_BPF_H */
