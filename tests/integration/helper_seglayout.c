/*
 * helper_seglayout.c - prints the shared-memory layout of lib/segment.h
 * (sizes, offsets, constants), one "name value" per line, so the tests
 * that forge or read segments in Python (test_hostile_segment.sh,
 * test_threads.sh) follow the header instead of copying numbers from it.
 *
 *   helper_seglayout
 *
 * Only the header is used (sizeof, offsetof, constants): helpers are not
 * linked with lib/.
 */
#include <stddef.h>
#include <stdio.h>

#include "segment.h"

#define SIZE(t)	  printf("sizeof.%s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("%s.%s %zu\n", #t, #f, offsetof(struct t, f))
#define CONST(c)  printf("%s %llu\n", #c, (unsigned long long)(c))

int main(void)
{
	CONST(FL_SEG_MAGIC);
	CONST(FL_SEG_VERSION);
	CONST(FL_SEG_HEADER_SIZE);
	CONST(FL_SEG_PROCS);
	CONST(FL_SEG_KEY_TEXT);
	CONST(FL_SEG_RULE_TEXT);
	CONST(FL_OP_COUNT);
	CONST(FL_ENTRY_READY);
	CONST(FL_PART_READY);
	CONST(FL_SEG_EVENTS);
	SIZE(fl_seg_header);
	SIZE(fl_seg_entry);
	SIZE(fl_seg_proc);
	SIZE(fl_seg_holder);
	SIZE(fl_seg_key);
	SIZE(fl_seg_op_stats);
	SIZE(fl_seg_events_hdr);
	SIZE(fl_seg_event);
	SIZE(fl_seg_layers);
	SIZE(fl_seg_layer);
	SIZE(fl_seg_stmt);
	OFF(fl_seg_layers, gen);
	OFF(fl_seg_layers, layers);
	OFF(fl_seg_layers, stmts);
	SIZE(fl_seg_conn_stats);
	OFF(fl_seg_header, magic);
	OFF(fl_seg_header, version);
	OFF(fl_seg_header, header_size);
	OFF(fl_seg_header, total_size);
	OFF(fl_seg_header, capacity);
	OFF(fl_seg_header, proc_capacity);
	OFF(fl_seg_header, holder_capacity);
	OFF(fl_seg_header, entries_used);
	OFF(fl_seg_header, domain);
	OFF(fl_seg_entry, status);
	OFF(fl_seg_entry, hash);
	OFF(fl_seg_entry, has_breaker);
	OFF(fl_seg_entry, has_bulkhead);
	OFF(fl_seg_entry, key);
	OFF(fl_seg_entry, breaker_rule);
	OFF(fl_seg_entry, bulkhead_rule);
	OFF(fl_seg_entry, breaker);
	OFF(fl_seg_entry, bulkhead);
	OFF(fl_seg_entry, ops);
	OFF(fl_seg_entry, conn);
	OFF(fl_seg_entry, shape_due_ns);
	OFF(fl_seg_key, kind);
	OFF(fl_seg_key, family);
	OFF(fl_seg_key, port);
	OFF(fl_seg_key, len);
	OFF(fl_seg_key, addr);
	OFF(fl_seg_key, text);
	OFF(fl_seg_breaker, word);
	OFF(fl_seg_bulkhead, active);
	OFF(fl_seg_bulkhead, queued);
	OFF(fl_seg_bulkhead, next_ticket);
	OFF(fl_seg_op_stats, calls);
	OFF(fl_seg_op_stats, errors_injected);
	OFF(fl_seg_proc, status);
	OFF(fl_seg_proc, pid);
	OFF(fl_seg_proc, token);
	OFF(fl_seg_proc, cmd);
	OFF(fl_seg_holder, entry_plus1);
	OFF(fl_seg_holder, proc);
	OFF(fl_seg_holder, refs);
	OFF(fl_seg_holder, primary);
	OFF(fl_seg_holder, live);
	OFF(fl_seg_holder, ticket);
	OFF(fl_seg_events_hdr, head);
	OFF(fl_seg_events_hdr, capacity);
	OFF(fl_seg_events_hdr, record_size);
	OFF(fl_seg_event, seq);
	OFF(fl_seg_event, sum);
	OFF(fl_seg_event, pid);
	OFF(fl_seg_event, time_ms);
	OFF(fl_seg_event, kind);
	OFF(fl_seg_event, what);
	OFF(fl_seg_event, dest);
	OFF(fl_seg_event, text);
	return 0;
}
