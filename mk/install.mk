# mk/install.mk: `make install` and `make uninstall`. Included by the top-level Makefile,
# which defines the chatd and build targets and VERSION.
#
#   make install                                 # into /usr/local
#   make install PREFIX=/usr DESTDIR=/tmp/stage  # staged, for a package
#   make uninstall PREFIX=/usr DESTDIR=/tmp/stage
#
# Two files are adjusted on their way in, so that the installed copies tell the truth: the
# man page's footer gets the version from include/version.h (docs/chatd.8 leaves .Os
# empty, as mdoc(7) asks) and its paths (FILES, EXAMPLES) name $(PKGDATADIR) and $(BINDIR)
# instead of the default prefix's /usr/local ones, and the unit's ExecStart gets $(BINDIR)
# instead of the /usr/local/bin it names in examples/. Both are regenerated in build/ at
# every install, so a PREFIX different from the last run's can never install a stale copy.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
PKGDATADIR ?= $(DATADIR)/chatd
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR     ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL    ?= install
VERSION    ?= $(shell sed -n 's/^\#define CHATD_VERSION "\(.*\)"/\1/p' include/version.h)

INSTALLED_FILES := $(BINDIR)/chatd $(MANDIR)/man8/chatd.8 \
                   $(PKGDATADIR)/chat.html $(PKGDATADIR)/chatd.service \
                   $(PKGDATADIR)/chatd@.service $(PKGDATADIR)/nginx-chatd.conf \
                   $(INCLUDEDIR)/chatd.h $(LIBDIR)/libchatd.a $(PKGCONFIGDIR)/chatd.pc

.PHONY: install uninstall

# rm before writing: a build/ file left by an earlier `sudo make install` belongs to
# root, and only replacing it (not writing into it) works for anyone else.
install: chatd build/libchatd.a | build
	rm -f build/chatd.8 build/chatd.service build/chatd@.service build/chatd.pc
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$(INCLUDEDIR)' 'libdir=$(LIBDIR)' '' \
		'Name: chatd' 'Description: a WebSocket chat server as a library (chatd.h)' \
		'Version: $(VERSION)' \
		'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lchatd $(CRYPTO_LIBS) $(REDIS_LIBS)' \
		> build/chatd.pc
	sed -e 's/^\.Os$$/.Os chatd $(VERSION)/' \
		-e 's|/usr/local/share/chatd/|$(PKGDATADIR)/|g' \
		-e 's|/usr/local/bin/chatd|$(BINDIR)/chatd|g' docs/chatd.8 > build/chatd.8
	sed 's|^ExecStart=/usr/local/bin/chatd|ExecStart=$(BINDIR)/chatd|' \
		examples/chatd.service > build/chatd.service
	sed 's|^ExecStart=/usr/local/bin/chatd|ExecStart=$(BINDIR)/chatd|' \
		examples/chatd@.service > build/chatd@.service
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man8" "$(DESTDIR)$(PKGDATADIR)"
	$(INSTALL) -m 755 chatd "$(DESTDIR)$(BINDIR)/chatd"
	$(INSTALL) -m 644 build/chatd.8 "$(DESTDIR)$(MANDIR)/man8/chatd.8"
	$(INSTALL) -m 644 examples/chat.html "$(DESTDIR)$(PKGDATADIR)/chat.html"
	$(INSTALL) -m 644 build/chatd.service "$(DESTDIR)$(PKGDATADIR)/chatd.service"
	$(INSTALL) -m 644 build/chatd@.service "$(DESTDIR)$(PKGDATADIR)/chatd@.service"
	$(INSTALL) -m 644 examples/nginx-chatd.conf "$(DESTDIR)$(PKGDATADIR)/nginx-chatd.conf"
	$(INSTALL) -d "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 644 include/chatd.h "$(DESTDIR)$(INCLUDEDIR)/chatd.h"
	$(INSTALL) -m 644 build/libchatd.a "$(DESTDIR)$(LIBDIR)/libchatd.a"
	$(INSTALL) -m 644 build/chatd.pc "$(DESTDIR)$(PKGCONFIGDIR)/chatd.pc"

# Removes what install put there, and chatd's own data directory once it is empty; the
# shared directories (bin, man8) stay.
uninstall:
	rm -f $(INSTALLED_FILES:%="$(DESTDIR)%")
	rmdir "$(DESTDIR)$(PKGDATADIR)" 2>/dev/null || true
