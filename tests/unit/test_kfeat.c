// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The variant each mode loads, from the feature sets Debian's kernels
 * showed under qemu (--check in tests/kmatrix/), without a kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "json_writer.h"
#include "kfeat.h"

/* As measured: 5.10.0-46, 6.1.0-57, 6.12.118 and 6.18.15 (the last two alike). */
static void kernel(struct kfeat *k, const char *release)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->release, sizeof(k->release), "%s", release);
	k->have[KFEAT_BTF] = k->have[KFEAT_RINGBUF] = k->have[KFEAT_TP_BTF] = true;
	k->have[KFEAT_UPROBE_PMU] = k->have[KFEAT_PERF_SAMPLE] = true;
	if (!strncmp(release, "5.10", 4))
		return;
	k->have[KFEAT_BPF_LOOP] = k->have[KFEAT_COOKIE] = k->have[KFEAT_TASK_STORAGE] = true;
	if (!strncmp(release, "6.1.", 4))
		return;
	k->have[KFEAT_UPROBE_MULTI] = true;
}

static void test_kfeat_debian_kernels(void **state)
{
	static const struct {
		const char *release;
		bool bpf_loop;
	} ks[] = {{"5.10.0-46-amd64", false},
		  {"6.1.0-57-amd64", true},
		  {"6.12.118+deb13-amd64", true},
		  {"6.18.15+deb13-amd64", true}};
	struct kfeat_plan p;
	struct kfeat k;

	(void)state;
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		kernel(&k, ks[i].release);
		for (int light = 0; light < 2; light++) {
			kfeat__plan(&k, light, &p);
			assert_int_equal(p.missing, -1);
			assert_true(p.tp_btf);
			assert_int_equal(p.bpf_loop, ks[i].bpf_loop);
			assert_true(p.samples);
		}
	}
}

/* What a mode cannot do without: named, with the release that brought it. */
static void test_kfeat_missing(void **state)
{
	struct kfeat_plan p;
	struct kfeat k;

	(void)state;
	kernel(&k, "5.10.0-46-amd64");
	k.have[KFEAT_TP_BTF] = false; /* raw_tp instead, nothing lost */
	kfeat__plan(&k, false, &p);
	assert_int_equal(p.missing, -1);
	assert_false(p.tp_btf);

	k.have[KFEAT_RINGBUF] = false; /* 5.4 */
	kfeat__plan(&k, true, &p);
	assert_int_equal(p.missing, KFEAT_RINGBUF);
	assert_string_equal(kfeat__since(p.missing), "5.8");

	kernel(&k, "6.1.0-57-amd64");
	k.have[KFEAT_UPROBE_PMU] = false; /* full mode needs it, light mode does not */
	kfeat__plan(&k, false, &p);
	assert_int_equal(p.missing, KFEAT_UPROBE_PMU);
	kfeat__plan(&k, true, &p);
	assert_int_equal(p.missing, -1);

	kernel(&k, "6.1.0-57-amd64");
	k.have[KFEAT_PERF_SAMPLE] = false; /* light mode is samples; full mode loses stacks */
	kfeat__plan(&k, true, &p);
	assert_int_equal(p.missing, KFEAT_PERF_SAMPLE);
	kfeat__plan(&k, false, &p);
	assert_int_equal(p.missing, -1);
	assert_false(p.samples);
}

/* --check --format json: the same choice, in fields. */
static void test_kfeat_json(void **state)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	json_writer_t *w = jsonw_new(f);
	struct kfeat k;

	(void)state;
	kernel(&k, "5.10.0-46-amd64");
	jsonw_start_object(w);
	kfeat__json(&k, w);
	jsonw_end_object(w);
	jsonw_destroy(&w);
	fclose(f);
	assert_non_null(strstr(buf, "\"kernel\":\"5.10.0-46-amd64\""));
	assert_non_null(strstr(buf, "\"bpf_loop\":{\"present\":false,\"since\":\"5.17\""));
	assert_non_null(strstr(buf,
			       "\"full\":{\"runs\":true,\"missing\":null,\"missing_since\":null,"
			       "\"tracepoints\":\"tp_btf\",\"stack_walk\":\"bounded\""));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kfeat_debian_kernels),
		cmocka_unit_test(test_kfeat_missing),
		cmocka_unit_test(test_kfeat_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
