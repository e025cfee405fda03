// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Name cache: open addressing with linear probing, oldest-first eviction in batches. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "names.h"

struct name_ent {
	uint64_t key;
	uint32_t pid;
	uint32_t kind; /* 0: empty slot */
	uint64_t seq;  /* insertion order, for eviction */
	char *name;
};

struct names {
	struct name_ent *slots;
	size_t cap; /* power of two, at least twice max */
	size_t max;
	size_t count;
	uint64_t seq;
	uint64_t evictions;
};

static size_t slot_of(const struct names *n, uint32_t pid, uint32_t kind, uint64_t key)
{
	uint64_t h = key ^ ((uint64_t)pid << 32) ^ kind;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h & (n->cap - 1);
}

struct names *names__new(size_t max)
{
	struct names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->max = max ? max : 1;
	n->cap = 16;
	while (n->cap < 2 * n->max)
		n->cap <<= 1;
	n->slots = calloc(n->cap, sizeof(*n->slots));
	if (!n->slots) {
		free(n);
		return NULL;
	}
	return n;
}

void names__free(struct names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->cap; i++)
		free(n->slots[i].name);
	free(n->slots);
	free(n);
}

static struct name_ent *find(const struct names *n, uint32_t pid, uint32_t kind, uint64_t key)
{
	size_t i = slot_of(n, pid, kind, key);

	for (size_t probe = 0; probe < n->cap; probe++, i = (i + 1) & (n->cap - 1)) {
		struct name_ent *e = &n->slots[i];

		if (!e->kind)
			return NULL;
		if (e->kind == kind && e->pid == pid && e->key == key)
			return e;
	}
	return NULL;
}

/* Remove the slot at i and re-place the entries of its probe run behind it. */
static void remove_at(struct names *n, size_t i)
{
	size_t j = i;

	free(n->slots[i].name);
	memset(&n->slots[i], 0, sizeof(n->slots[i]));
	n->count--;
	for (;;) {
		struct name_ent e;
		size_t home;

		j = (j + 1) & (n->cap - 1);
		if (!n->slots[j].kind)
			return;
		e = n->slots[j];
		memset(&n->slots[j], 0, sizeof(n->slots[j]));
		home = slot_of(n, e.pid, e.kind, e.key);
		while (n->slots[home].kind)
			home = (home + 1) & (n->cap - 1);
		n->slots[home] = e;
	}
}

/*
 * Evict the oldest eighth (by insertion order) in two passes over the
 * table: evicting one entry per insertion scanned the whole table on every
 * insertion once full, which made the tracer fall behind the ring buffer
 * when thousands of tasks a second sent their names.
 */
static void evict_oldest(struct names *n)
{
	uint64_t min = UINT64_MAX, cut;
	size_t before = n->count;

	for (size_t i = 0; i < n->cap; i++)
		if (n->slots[i].kind && n->slots[i].seq < min)
			min = n->slots[i].seq;
	cut = min + n->max / 8 + 1;
	for (size_t i = 0; i < n->cap; i++)
		while (n->slots[i].kind && n->slots[i].seq < cut)
			remove_at(n, i); /* may move a later entry of the run into i */
	n->evictions += before - n->count;
}

int names__set(struct names *n, uint32_t pid, uint32_t kind, uint64_t key, const char *name)
{
	struct name_ent *e = find(n, pid, kind, key);
	char *copy = name ? strdup(name) : NULL;
	size_t i;

	if (name && !copy)
		return -ENOMEM;
	if (!kind) {
		free(copy);
		return -EINVAL;
	}
	if (e) {
		free(e->name);
		e->name = copy;
		e->seq = ++n->seq;
		return 0;
	}
	if (n->count >= n->max)
		evict_oldest(n);
	i = slot_of(n, pid, kind, key);
	while (n->slots[i].kind)
		i = (i + 1) & (n->cap - 1);
	n->slots[i] = (struct name_ent){key, pid, kind, ++n->seq, copy};
	n->count++;
	return 0;
}

void names__del(struct names *n, uint32_t pid, uint32_t kind, uint64_t key)
{
	struct name_ent *e = find(n, pid, kind, key);

	if (e)
		remove_at(n, (size_t)(e - n->slots));
}

const char *names__get(const struct names *n, uint32_t pid, uint32_t kind, uint64_t key)
{
	const struct name_ent *e = find(n, pid, kind, key);

	return e ? e->name : NULL;
}

size_t names__count(const struct names *n)
{
	return n->count;
}

uint64_t names__evictions(const struct names *n)
{
	return n->evictions;
}
