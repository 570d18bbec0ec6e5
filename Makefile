# cubby: a plain GNU Makefile.
#
#   make            build/cubbyd (release: -Os, sections garbage-collected)
#   make run        dependencies, build, start cubbyd on etc/cubby.conf, data in ./var
#   make check      dependencies, every test (unit, and integration against
#                   the real cubbyd), then all again under AddressSanitizer
#                   and UndefinedBehaviorSanitizer
#   make bench      every performance and footprint scenario against a fresh
#                   cubbyd and the peers, each beside a reference from the
#                   same run; writes bench/RESULTS.md (BENCH_QUICK=1: smaller)
#   make install    PREFIX=/usr/local DESTDIR= : stripped binary, config, docs
#   make clean
#
# Variables for the internal variant builds: B (output dir), SAN=1.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
DOCDIR    ?= $(PREFIX)/share/doc/cubby

CXX       ?= g++
B         ?= build
PKGS      := libwebsockets libcjson lmdb libmd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

OPT       ?= -Os
WARN      := -Wall -Wextra
ifeq ($(SAN),1)
OPT       := -O1 -g -fno-omit-frame-pointer
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all
endif
CXXFLAGS  += -std=c++17 -fno-exceptions -fno-rtti $(OPT) $(WARN) $(SANFLAGS) \
             -ffunction-sections -fdata-sections -MMD -MP \
             -Iinclude -DCUBBY_VERSION='"$(VERSION)"' -D_FILE_OFFSET_BITS=64 $(PKG_CFLAGS)
LDFLAGS   += -Wl,--gc-sections -Wl,--as-needed $(SANFLAGS)

CORE_SRC  := $(wildcard src/core/*.cpp)
NET_SRC   := $(wildcard src/net/*.cpp)
PROTO_SRC := $(wildcard src/proto/*.cpp)
CORE_OBJ  := $(CORE_SRC:%.cpp=$(B)/obj/%.o)
NET_OBJ   := $(NET_SRC:%.cpp=$(B)/obj/%.o)
PROTO_OBJ := $(PROTO_SRC:%.cpp=$(B)/obj/%.o)
SUPPORT_OBJ := $(patsubst %.cpp,$(B)/obj/%.o,$(wildcard tests/support/*.cpp))
MAIN_OBJ  := $(B)/obj/src/main.o

UNIT_SRC  := $(wildcard tests/unit/test_*.cpp)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.cpp=$(B)/tests/%)
INTEG_SRC := $(wildcard tests/integration/test_*.cpp)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.cpp=$(B)/tests/%)
TEST_LIBS  = $(shell pkg-config --libs cmocka openssl)

.PHONY: all deps run check check-plain check-san tests unit bench install clean

all: $(B)/cubbyd

$(B)/cubbyd: $(MAIN_OBJ) $(PROTO_OBJ) $(NET_OBJ) $(CORE_OBJ)
	$(CXX) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

# Unit tests link core and the network layer (tests/support has the clients).
$(B)/tests/%: tests/unit/%.cpp $(NET_OBJ) $(CORE_OBJ) $(SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -Itests -o $@ $< $(NET_OBJ) $(CORE_OBJ) $(SUPPORT_OBJ) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

# Integration tests drive the real cubbyd through tests/support; they link
# no server code.
$(B)/tests/%: tests/integration/%.cpp $(SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -Itests -o $@ $< $(SUPPORT_OBJ) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

deps:
	@sh contrib/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	$(B)/cubbyd -c etc/cubby.conf --data ./var

# The dependency step runs first in its own make so that pkg-config sees
# what it installed.
check: deps
	@$(MAKE) --no-print-directory check-plain
	@$(MAKE) --no-print-directory check-san

check-plain:
	@$(MAKE) --no-print-directory B=build/test OPT='-O1 -g' WARN='-Wall -Wextra -Werror' tests
	@sh tests/run.sh build/test

check-san:
	@$(MAKE) --no-print-directory B=build/asan SAN=1 WARN='-Wall -Wextra -Werror' tests
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tests/run.sh build/asan

tests: $(B)/cubbyd $(UNIT_BIN) $(INTEG_BIN)

# The bench clients link what they share (bench/common.cpp) and the test
# clients (tests/support).
BENCH_SRC := $(filter-out bench/common.cpp,$(wildcard bench/*.cpp))
BENCH_BIN := $(BENCH_SRC:bench/%.cpp=$(B)/bench/%)
BENCH_OBJ := $(B)/obj/bench/common.o
$(BENCH_OBJ): CXXFLAGS += -Itests
# objects only pattern rules ask for are kept, not deleted as intermediates
.SECONDARY: $(SUPPORT_OBJ) $(BENCH_OBJ)
$(B)/bench/%: bench/%.cpp bench/common.h $(BENCH_OBJ) $(SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -Itests -o $@ $< $(BENCH_OBJ) $(SUPPORT_OBJ) $(LDFLAGS) $(PKG_LIBS) $(TEST_LIBS)

bench: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory OPT=-O2 B=build/bench-build $(addprefix build/bench-build/,cubbyd $(BENCH_BIN:$(B)/%=%))
	@sh bench/run.sh build/bench-build $(B)/cubbyd

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/cubby $(DESTDIR)$(DOCDIR)
	install -m 0755 -s $(B)/cubbyd $(DESTDIR)$(PREFIX)/bin/cubbyd
	install -m 0644 etc/cubby.conf $(DESTDIR)$(SYSCONFDIR)/cubby/cubby.conf
	install -m 0644 README.md COPYING $(DESTDIR)$(DOCDIR)/
	cp -R docs/. $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build

-include $(shell find $(B)/obj $(B)/tests -name '*.d' 2>/dev/null)
