# coffer - build, test, install. `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS    := libarchive libzstd libsodium jansson sqlite3 libcurl libpq libmariadb openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wformat=2 -Wvla -Wmissing-prototypes -Wno-format-nonliteral -Wno-format-truncation
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(FEATURES) -MMD -MP
LDLIBS  := $(PKG_LIBS) -pthread -lm

# Optional drivers are compiled in when their files exist.
FEATURES :=
ifneq ($(wildcard lib/storage/s3/s3.c),)
FEATURES += -DCOFFER_HAVE_S3
endif
ifneq ($(wildcard lib/source/src_postgres.c),)
FEATURES += -DCOFFER_HAVE_DB
endif

TOOLS     := backupd restore catalog migrate
MAIN_SRC  := $(foreach t,$(TOOLS),$(wildcard $(t)/$(t)_main.c))
LIB_SRC   := $(filter-out $(MAIN_SRC),$(wildcard lib/*/*.c lib/*/*/*.c policies/*.c $(foreach t,$(TOOLS),$(t)/*.c)))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
BINS      := $(foreach m,$(MAIN_SRC),bin/$(notdir $(m:_main.c=)))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check asan demo install uninstall man clean help bench
all: $(BINS)

# the driver registries change when an optional driver's file appears (after a merge, say)
$(BUILD)/obj/lib/source/source.o: $(wildcard lib/source/src_postgres.c)
$(BUILD)/obj/lib/storage/target.o: $(wildcard lib/storage/s3/s3.c)

help:
	@echo "make            build bin/backupd bin/restore bin/catalog bin/migrate"
	@echo "make demo       install what is missing, build, back up and restore a sample tree"
	@echo "make check      install what is missing, build, run every test (real servers)"
	@echo "make asan       the tests under AddressSanitizer and UndefinedBehaviorSanitizer"
	@echo "make install    binaries, man pages, units, completion, examples, alert rules and"
	@echo "                dashboard under \$$(DESTDIR)\$$(PREFIX) (default /usr/local)"
	@echo "make uninstall  remove exactly what install put there"
	@echo "make man        the man pages (scdoc) into \$$(BUILD)/man"
	@echo "make clean"

deps:
	@deploy/install-deps.sh build

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libcoffer.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# tool binaries: bin/backupd from backupd/backupd_main.c
define tool_rule
bin/$(1): $(BUILD)/obj/$(1)/$(1)_main.o $(BUILD)/libcoffer.a
	@mkdir -p bin
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$< $(BUILD)/libcoffer.a $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h tests/unit/fixture.h $(BUILD)/libcoffer.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ilib -o $@ $< $(BUILD)/libcoffer.a $(LDLIBS)

check: deps
	@deploy/install-deps.sh test
	$(MAKE) all $(UNIT_BINS)
	COFFER_BIN=$(CURDIR)/bin COFFER_UNIT=$(CURDIR)/$(BUILD)/tests tests/run.sh

asan: deps
	@deploy/install-deps.sh test
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    LDLIBS="$(LDLIBS) -fsanitize=address,undefined" all-asan
	COFFER_BIN=$(CURDIR)/build-asan/bin COFFER_UNIT=$(CURDIR)/build-asan/tests \
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1 tests/run.sh

# the asan build keeps its binaries apart from bin/
.PHONY: all-asan
all-asan: $(foreach m,$(MAIN_SRC),$(BUILD)/bin/$(notdir $(m:_main.c=))) $(UNIT_BINS)
define asan_rule
$(BUILD)/bin/$(1): $(BUILD)/obj/$(1)/$(1)_main.o $(BUILD)/libcoffer.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$< $(BUILD)/libcoffer.a $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call asan_rule,$(t))))

demo: deps
	$(MAKE) all
	deploy/demo.sh

bench: deps
	$(MAKE) all
	bench/stream.sh

# man pages: man/*.scd converted by scdoc (Debian's scdoc, in install-deps.sh's build group)
MAN_SRC  := $(wildcard man/*.scd)
MAN_OUT  := $(MAN_SRC:man/%.scd=$(BUILD)/man/%)
man: $(MAN_OUT)
$(BUILD)/man/%: man/%.scd
	@mkdir -p $(dir $@)
	scdoc <$< >$@.tmp && mv $@.tmp $@

# `make install PREFIX=/usr/local DESTDIR=`: what goes where (docs/RUNBOOK.md "Installing");
# `make uninstall` with the same PREFIX and DESTDIR removes exactly these files. The units and
# the crontab name the binaries under PREFIX (@BINDIR@ in deploy/). INSTALL_FROM: the directory
# of the binaries to install (default bin/, built first).
INSTALL_FROM ?= bin
BINDIR     = $(PREFIX)/bin
MANDIR     = $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
COMPDIR   ?= $(PREFIX)/share/bash-completion/completions
SHAREDIR   = $(PREFIX)/share/coffer
UNITS     := $(notdir $(wildcard deploy/systemd/*.service deploy/systemd/*.timer))
SHARED    := coffer.conf.example crontab.example prometheus/coffer.rules.yml grafana/coffer.json
SUBST      = sed 's|@BINDIR@|$(BINDIR)|g'

install: $(if $(filter bin,$(INSTALL_FROM)),all) man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(COMPDIR) \
	    $(DESTDIR)$(SHAREDIR)/prometheus $(DESTDIR)$(SHAREDIR)/grafana \
	    $(foreach s,1 5 8,$(DESTDIR)$(MANDIR)/man$(s))
	install -m 0755 $(TOOLS:%=$(INSTALL_FROM)/%) $(DESTDIR)$(BINDIR)/
	for f in $(MAN_OUT); do install -m 0644 $$f $(DESTDIR)$(MANDIR)/man$${f##*.}/; done
	for u in $(UNITS); do $(SUBST) deploy/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	install -m 0644 deploy/systemd/coffer.sysusers $(DESTDIR)$(SYSUSERSDIR)/coffer.conf
	install -m 0644 deploy/bash-completion/coffer $(DESTDIR)$(COMPDIR)/backupd
	for t in restore catalog migrate; do ln -sf backupd $(DESTDIR)$(COMPDIR)/$$t; done
	for f in $(SHARED); do $(SUBST) deploy/$$f >$(DESTDIR)$(SHAREDIR)/$$f && \
	    chmod 0644 $(DESTDIR)$(SHAREDIR)/$$f; done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%) $(UNITS:%=$(DESTDIR)$(UNITDIR)/%) \
	    $(DESTDIR)$(SYSUSERSDIR)/coffer.conf $(TOOLS:%=$(DESTDIR)$(COMPDIR)/%) \
	    $(SHARED:%=$(DESTDIR)$(SHAREDIR)/%) \
	    $(foreach m,$(notdir $(MAN_OUT)),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(m))
	-rmdir $(DESTDIR)$(SHAREDIR)/prometheus $(DESTDIR)$(SHAREDIR)/grafana $(DESTDIR)$(SHAREDIR) 2>/dev/null

clean:
	rm -rf build build-asan bin demo

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
