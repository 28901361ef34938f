# coffer - build, test, install. `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS    := libarchive libzstd libsodium jansson sqlite3 libcurl libpq libmariadb openssl libmicrohttpd
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

.PHONY: all deps check asan demo install clean help bench
all: $(BINS)

# the driver registries change when an optional driver's file appears (after a merge, say)
$(BUILD)/obj/lib/source/source.o: $(wildcard lib/source/src_postgres.c)
$(BUILD)/obj/lib/storage/target.o: $(wildcard lib/storage/s3/s3.c)

help:
	@echo "make            build bin/backupd bin/restore bin/catalog bin/migrate"
	@echo "make demo       install what is missing, build, back up and restore a sample tree"
	@echo "make check      install what is missing, build, run every test (real servers)"
	@echo "make asan       the tests under AddressSanitizer and UndefinedBehaviorSanitizer"
	@echo "make install    into \$$(DESTDIR)\$$(PREFIX)/bin"
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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan bin demo

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
