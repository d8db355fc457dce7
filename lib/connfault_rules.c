/*
 * connfault_rules.c - the whole-statement checks of the connection-fault
 * keys of `fault` and of the `shape` kind (SPEC 10).
 *
 * Each key acts only on some calls (eof makes no sense on a send, corrupt
 * none on a connect), so a statement naming an op its key cannot act on is
 * an error that lists the ops that take it: a rule that silently does
 * nothing on half its ops would pass a test that should have failed. A
 * statement that leaves `on` at its default (all) is narrowed to the ops
 * its keys take, so `fault eof=true` means what it says without on=.
 */
#include <string.h>

#include "fault.h"
#include "rules.h"
#include "textbuf.h"

#define OPS_RECV_READ ((1u << FL_OP_RECV) | (1u << FL_OP_READ))

struct op_key {
	const char *name;
	uint32_t takes; /* ops the key can act on */
	bool (*set)(const struct fl_fault_params *p);
};

static bool has_max_bytes(const struct fl_fault_params *p)
{
	return p->max_bytes != 0;
}
static bool has_eof(const struct fl_fault_params *p)
{
	return p->eof;
}
static bool has_hang(const struct fl_fault_params *p)
{
	return p->hang_ms != FL_HANG_UNSET;
}
static bool has_close_after(const struct fl_fault_params *p)
{
	return p->close_after_bytes != 0;
}
static bool has_corrupt(const struct fl_fault_params *p)
{
	return p->corrupt > 0.0;
}
static bool has_error(const struct fl_fault_params *p)
{
	return p->error != 0;
}

static const struct op_key conn_keys[] = {
    {"max_bytes", FL_OPS_IO, has_max_bytes}, {"eof", OPS_RECV_READ, has_eof},
    {"hang_ms", FL_OPS_ALL, has_hang},	     {"close_after_bytes", FL_OPS_IO, has_close_after},
    {"corrupt", OPS_RECV_READ, has_corrupt},
};
static const struct op_key error_key = {"error", FL_OPS_ALL, has_error};

bool fl_connfault_any(const struct fl_fault_params *p)
{
	for (size_t i = 0; i < sizeof conn_keys / sizeof conn_keys[0]; i++)
		if (conn_keys[i].set(p))
			return true;
	return false;
}

static void ops_text(uint32_t ops, char *buf, size_t size)
{
	struct fl_textbuf b;
	fl_tb_init(&b, buf, size);
	bool first = true;
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		if (!(ops & (1u << op)))
			continue;
		fl_tb_puts(&b, first ? "" : ", ");
		fl_tb_puts(&b, fl_op_names[op]);
		first = false;
	}
	if (ops & FL_OPS_CLOSE)
		fl_tb_puts(&b, first ? "close" : ", close");
}

static int refuse(const struct op_key *k, uint32_t ops, const struct fl_loc *loc, struct fl_diag *d)
{
	char takes[96], bad[96];
	ops_text(k->takes, takes, sizeof takes);
	ops_text(ops & ~k->takes, bad, sizeof bad);
	return fl_diag_error(d, loc, "'%s' applies only to %s, not to %s (set on= to ops that take it)",
			     k->name, takes, bad);
}

int fl_connfault_finish(struct fl_fault_params *p, const struct fl_loc *loc, struct fl_diag *d)
{
	uint32_t narrow = FL_OPS_ALL;
	bool any = false;
	for (size_t i = 0; i < sizeof conn_keys / sizeof conn_keys[0]; i++) {
		if (conn_keys[i].set(p)) {
			narrow &= conn_keys[i].takes;
			any = true;
		}
	}
	if (any && p->ops == FL_OPS_ALL)
		p->ops = narrow; /* on= left at its default: the ops the keys take */
	for (size_t i = 0; i < sizeof conn_keys / sizeof conn_keys[0]; i++)
		if (conn_keys[i].set(p) && (p->ops & ~conn_keys[i].takes))
			return refuse(&conn_keys[i], p->ops, loc, d);
	if ((p->ops & FL_OPS_CLOSE) && has_error(p))
		return refuse(&error_key, p->ops, loc, d);
	if ((p->ops & FL_OPS_CLOSE) && p->delay_ms == 0)
		return fl_diag_error(d, loc, "on=close takes delay_ms= (a slow close) and nothing else");
	p->corrupt_threshold = fl_probability_threshold(p->corrupt);
	p->connfault = any;
	return 0;
}

int fl_shape_finish(struct fl_fault_params *p, const struct fl_loc *loc, struct fl_diag *d)
{
	if (p->rate_kbps == 0)
		return fl_diag_error(d, loc, "shape needs rate_kbps= above 0 (kilobytes per second)");
	if (p->ops & ~FL_OPS_IO) {
		char bad[96];
		ops_text(p->ops & ~FL_OPS_IO, bad, sizeof bad);
		return fl_diag_error(d, loc, "shape applies only to send, recv, write, read, not to %s", bad);
	}
	p->threshold = UINT64_MAX;
	return 0;
}
