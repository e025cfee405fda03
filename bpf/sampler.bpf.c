// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The CPU samplers: stacks of long callbacks, light mode's attribution (pystack.bpf.h). */
#include "pystack.bpf.h"

/* CPU-clock perf event, one per CPU: samples inside long callbacks. */
SEC("perf_event")
int ap_sample(struct bpf_perf_event_data *ctx)
{
	return on_sample(true);
}

SEC("perf_event")
int ap_sample_bounded(struct bpf_perf_event_data *ctx)
{
	return on_sample(false);
}
