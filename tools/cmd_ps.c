/*
 * cmd_ps.c - `faultline ps`: the processes attached to a domain.
 *
 * A record is "alive" if its process still holds its liveness token, or
 * if its pid runs *and* started when the record says (fl_proc_alive): a
 * reused pid is not mistaken for the process that registered, and a
 * process in another PID namespace, whose pid means nothing here, is not
 * taken for dead. Dead records are shown as dead once, then reclaimed
 * (fl_bulkhead_reclaim_dead), which gives back any bulkhead slots they
 * still held.
 */
#include <stdlib.h>

#include "bulkhead.h"
#include "cli.h"
#include "procreg.h"
#include "reader.h"
#include "report.h"
#include "segment.h"

int fl_cmd_ps(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "ps takes no operands ('%s'; a domain is given with --domain)",
				   cli->operands[0]);
	struct fl_seg seg;
	struct fl_snapshot snap;
	int code = fl_cli_open_domain(cli, &seg, &snap);
	if (code != FL_EXIT_OK)
		return code;
	bool *alive = calloc(snap.nprocs + 1, sizeof(*alive));
	if (!alive) {
		code = fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	} else {
		bool any_dead = false;
		for (size_t i = 0; i < snap.nprocs; i++) {
			alive[i] = fl_proc_alive(&seg, snap.procs[i].index, &snap.procs[i].rec);
			any_dead |= !alive[i];
		}
		struct fl_out o;
		fl_out_init(&o);
		fl_report_ps(&o, &snap, alive, cli->json);
		code = fl_cli_print(&o);
		fl_out_free(&o);
		if (any_dead)
			fl_bulkhead_reclaim_dead(&seg);
	}
	free(alive);
	fl_snapshot_free(&snap);
	fl_seg_close(&seg);
	return code;
}
