/*
 * helper_lib_events.c - an event writer that stops half-way, driving
 * lib/events.h directly (linked with the core, see the Makefile), for
 * test_events.sh: the test SIGKILLs it there, as a writer killed between
 * taking its record and publishing it.
 *
 *   helper_lib_events DOMAIN stuck
 *       opens (creating) the domain, writes one whole event (layer
 *       "before" applied), then takes the next record and fills it without
 *       publishing (layer "stuck"), prints "marked N" and waits to be
 *       killed (at most 60 s).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "events.h"
#include "segment.h"

int main(int argc, char **argv)
{
	if (argc != 3 || strcmp(argv[2], "stuck") != 0) {
		fprintf(stderr, "usage: helper_lib_events DOMAIN stuck\n");
		return 2;
	}
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	if (fl_seg_open(&seg, argv[1], FL_SEG_CAPACITY_DEFAULT, true, fl_clock_unix_ms(), &d) < 0) {
		fprintf(stderr, "helper_lib_events: %s\n", d.error);
		return 1;
	}
	fl_event_layer(&seg, (uint32_t)getpid(), "before", "applied", fl_clock_unix_ms());
	struct fl_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.time_ms = fl_clock_unix_ms();
	ev.pid = (uint32_t)getpid();
	ev.kind = FL_EVENT_LAYER;
	ev.what = FL_LAYER_EV_APPLIED;
	fl_event_text(ev.text, sizeof(ev.text), "stuck");
	uint64_t n = fl_event_write_unfinished(&seg, &ev);
	printf("marked %llu\n", (unsigned long long)n);
	fflush(stdout);
	for (int i = 0; i < 600; i++)
		usleep(100000);
	return 3;
}
