# faultline - every entry point: all, check, demo, bench, sanitize, fuzz, install, clean,
# format, format-check.
#
# lib/   policy core, built once as a PIC archive and linked into both the
#        shim and the CLI (and the unit tests).
# shim/  the LD_PRELOAD interposition layer -> build/libfaultline.so
# tools/ the CLI -> build/faultline

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=

PKGS        := libconfig
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lconfig)
# `faultline serve` only (tools/cmd_serve.c): the CLI links these, the shim never does.
SERVE_PKGS   := libmicrohttpd json-c
SERVE_CFLAGS := $(shell pkg-config --cflags $(SERVE_PKGS) 2>/dev/null)
SERVE_LIBS   := $(shell pkg-config --libs $(SERVE_PKGS) 2>/dev/null || echo -lmicrohttpd -ljson-c)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS  := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -pthread)

# CFLAGS and LDFLAGS are the user's (`make CFLAGS=-O0`, or from the
# environment): they come last, so they can override, but never replace what
# the build needs, which is in FL_CFLAGS and FL_LDFLAGS. OPT and SANFLAGS are
# set by tests/sanitize.sh and tests/fuzz/run.sh (OPT=-O1).
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
SANFLAGS ?=
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral -Wmissing-prototypes
FL_CFLAGS  := -std=gnu11 $(WARN) -fPIC -fvisibility=hidden -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) $(SANFLAGS)
FL_LDFLAGS := $(SANFLAGS)

LIB_SRCS  := $(sort $(wildcard lib/*.c))
SHIM_SRCS := $(sort $(wildcard shim/*.c))
TOOL_SRCS := $(sort $(wildcard tools/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
SHIM_OBJS := $(SHIM_SRCS:%.c=$(BUILD)/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/%.o)
# One binary for every unit suite: test_NAME.c defines NAME_suite(), and
# tests/unit/runner.c runs them from the list suites.h made here.
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/runner.o
UNIT_LIST := $(BUILD)/tests/unit/suites.h
UNIT_BINS := $(BUILD)/tests/unit_tests
HELPER_SRCS := $(sort $(wildcard tests/integration/*.c))
HELPER_BINS := $(HELPER_SRCS:tests/integration/%.c=$(BUILD)/tests/%)

SHIM := $(BUILD)/libfaultline.so
CLI  := $(BUILD)/faultline
CORE := $(BUILD)/libflcore.a

.PHONY: all deps check unit integration demo bench sanitize fuzz install uninstall clean format \
	format-check FORCE

all: $(SHIM) $(CLI)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(FL_CFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(CORE): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Only the wrapped functions are exported: shim/exports.map lists them.
$(SHIM): $(SHIM_OBJS) $(CORE) shim/exports.map
	$(CC) -shared -o $@ $(SHIM_OBJS) $(CORE) $(FL_LDFLAGS) $(LDFLAGS) -Wl,--version-script=shim/exports.map \
	      -Wl,-z,now -Wl,-z,relro $(PKG_LIBS) -ldl -pthread

$(CLI): $(TOOL_OBJS) $(CORE)
	$(CC) -o $@ $(TOOL_OBJS) $(CORE) $(FL_LDFLAGS) $(LDFLAGS) $(PKG_LIBS) $(SERVE_LIBS) -pthread

# The dashboard (tools/dashboard.html) is compiled into the CLI as a C array,
# made with od and sed (coreutils), so no tool beyond make and cc is needed.
$(TOOL_OBJS): FL_CFLAGS += $(SERVE_CFLAGS) -I$(BUILD)/gen
$(BUILD)/tools/cmd_serve.o: $(BUILD)/gen/dashboard.h
$(BUILD)/gen/dashboard.h: tools/dashboard.html
	@mkdir -p $(dir $@)
	{ echo 'static const unsigned char dashboard_html[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } >$@.new && mv -f $@.new $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FL_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/tests/unit $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The suites' list, FL_SUITE(NAME) a line from the names of the files;
# rewritten only when a suite file comes or goes.
$(UNIT_LIST): FORCE
	@mkdir -p $(dir $@)
	@printf 'FL_SUITE(%s)\n' $(UNIT_SRCS:tests/unit/test_%.c=%) >$@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv -f $@.new $@

$(BUILD)/tests/unit/runner.o: $(UNIT_LIST)

$(UNIT_BINS): $(UNIT_OBJS) $(CORE)
	$(CC) -o $@ $(UNIT_OBJS) $(CORE) $(FL_LDFLAGS) $(LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS)

$(BUILD)/tests/%: tests/integration/%.c
	@mkdir -p $(dir $@)
	$(CC) $(FL_CFLAGS) -fvisibility=default $(CPPFLAGS) $(CFLAGS) -MMD -MP -o $@ $< \
	      $(FL_LDFLAGS) $(LDFLAGS) -pthread

# Helpers that drive lib/ directly (helper_lib_*.c) link the core too.
$(BUILD)/tests/helper_lib_%: tests/integration/helper_lib_%.c $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(FL_CFLAGS) -fvisibility=default $(CPPFLAGS) $(CFLAGS) -MMD -MP -o $@ $< $(CORE) \
	      $(FL_LDFLAGS) $(LDFLAGS) $(PKG_LIBS) -pthread

deps:
	@tools/deps.sh

# Whether the unit suites can be built: check and subunit are installed.
# Expanded when check's recipe runs, after deps has installed what it can;
# without them make check runs the rest, and tests/run.sh says the unit
# suites were skipped.
HAVE_CHECK = $(shell printf '\043include <check.h>\nint main(void) { return srunner_ntests_run(0); }\n' | \
	$(CC) $(CHECK_CFLAGS) -x c - -o /dev/null $(CHECK_LIBS) >/dev/null 2>&1 && echo yes)

check: deps
	@$(MAKE) --no-print-directory all $(HELPER_BINS) $(if $(HAVE_CHECK),$(UNIT_BINS))
	@tests/run.sh $(BUILD)

unit: all $(UNIT_BINS)
	@tests/run.sh $(BUILD) unit

integration: all $(HELPER_BINS)
	@tests/run.sh $(BUILD) integration

demo: deps
	@$(MAKE) --no-print-directory all
	@examples/demo/run.sh $(BUILD)

# Benchmarks, sanitizers and fuzzing live in scripts of their own, so the
# Makefile stays a table of entry points.
bench: all
	@tests/bench/run.sh $(BUILD)

sanitize: deps
	@tests/sanitize.sh

FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the CLI finds the shim at
# ../lib/faultline/ relative to itself, so a DESTDIR tree works as installed.
BINDIR  := $(DESTDIR)$(PREFIX)/bin
SHIMDIR := $(DESTDIR)$(PREFIX)/lib/faultline
MANDIR  := $(DESTDIR)$(PREFIX)/share/man
DOCDIR  := $(DESTDIR)$(PREFIX)/share/doc/faultline

install: all
	install -d $(BINDIR) $(SHIMDIR) $(MANDIR)/man1 $(MANDIR)/man7 $(DOCDIR)
	install -m 755 $(CLI) $(BINDIR)/faultline
	install -m 644 $(SHIM) $(SHIMDIR)/libfaultline.so
	install -m 644 docs/faultline.1 $(MANDIR)/man1/faultline.1
	install -m 644 docs/faultline.7 $(MANDIR)/man7/faultline.7
	install -m 644 README.md $(wildcard docs/*.md) $(DOCDIR)/
	cp -R examples $(DOCDIR)/

uninstall:
	rm -f $(BINDIR)/faultline $(SHIMDIR)/libfaultline.so $(MANDIR)/man1/faultline.1 $(MANDIR)/man7/faultline.7
	rm -rf $(DOCDIR)
	-rmdir $(SHIMDIR) 2>/dev/null

# Every C file of the project, in the style of .clang-format.
FORMAT_SRCS := $(sort $(wildcard lib/*.[ch] shim/*.[ch] tools/*.[ch] tests/*/*.[ch]))
CLANG_FORMAT ?= clang-format

format:
	$(CLANG_FORMAT) -i $(FORMAT_SRCS)

# Changes nothing: fails, naming each file and line, where `make format`
# would change something.
format-check:
	@command -v $(CLANG_FORMAT) >/dev/null 2>&1 || \
		{ echo "make format-check: $(CLANG_FORMAT) is not installed (apt-get install clang-format)" >&2; exit 2; }
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJS:.o=.d) $(SHIM_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) $(HELPER_BINS:=.d) $(UNIT_OBJS:.o=.d)
