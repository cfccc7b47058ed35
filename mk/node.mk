# The Node SDK: the npm package uhw-worker in contrib/node (see contrib/node/README.md).
#
#   make            npm ci (from package-lock.json) and code generation from proto/uhw.proto
#                   (protoc with the plugin scripts/protoc-gen-uhwjs: google-protobuf classes),
#                   then $(B)/node/uhw-worker -> contrib/node, so NODE_PATH=$(B)/node (which uhw
#                   gives its workers) makes require('uhw-worker') work. Skipped, with a notice,
#                   when npm is not installed (make deps installs it).
#   make install    $(PREFIX)/lib/uhw/node/uhw-worker with its runtime dependencies
#   make test       test/suites/node.sh (node --test) and test/e2e/node.bats

NODE_SDK := contrib/node
# npm rewrites node_modules/.package-lock.json on every install: it stands for "installed".
NODE_MODULES := $(NODE_SDK)/node_modules/.package-lock.json
NODE_GEN := $(NODE_SDK)/gen/uhw_pb.js
NODE_NPM := npm --loglevel=error --no-audit --no-fund
NODE_STAGE := $(B)/node/dist/uhw-worker

DEBS_TEST += nodejs

.PHONY: node deps-node install-node clean-node

all: node

node:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) -s --no-print-directory $(B)/node/.uhw-worker; \
	else echo "uhw: npm not found: skipping the Node SDK (make deps installs it)" >&2; fi

$(NODE_MODULES): $(NODE_SDK)/package-lock.json $(NODE_SDK)/package.json
	$(SAY) NPM "ci $(NODE_SDK)"
	$(Q)cd $(NODE_SDK) && $(NODE_NPM) ci --ignore-scripts >/dev/null
	@touch $@

NODE_PLUGIN := $(NODE_SDK)/scripts/protoc-gen-uhwjs $(wildcard $(NODE_SDK)/scripts/jspb-gen/*.js)

$(NODE_GEN): proto/uhw.proto $(NODE_SDK)/scripts/gen.js $(NODE_PLUGIN) $(NODE_MODULES)
	$(SAY) PROTOC $@
	$(Q)cd $(NODE_SDK) && node scripts/gen.js

$(B)/node/.uhw-worker: $(NODE_GEN)
	@mkdir -p $(B)/node
	$(Q)ln -sfn "$$(realpath --relative-to=$(B)/node $(NODE_SDK))" $(B)/node/uhw-worker
	@touch $@

deps: deps-node
deps-node:
	@sh $(NODE_SDK)/scripts/npm-deps.sh install

# A copy with production dependencies only (google-protobuf), from npm's cache when it can.
install: install-node
install-node: node
	@if ! command -v npm >/dev/null 2>&1 || [ ! -e $(B)/node/.uhw-worker ]; then \
		echo "uhw: npm not found: not installing the Node SDK" >&2; exit 0; fi; \
	set -e; \
	rm -rf $(NODE_STAGE) && mkdir -p $(NODE_STAGE); \
	cp -R $(NODE_SDK)/package.json $(NODE_SDK)/package-lock.json $(NODE_SDK)/README.md \
		$(NODE_SDK)/lib $(NODE_SDK)/gen $(NODE_STAGE)/; \
	(cd $(NODE_STAGE) && $(NODE_NPM) ci --omit=dev --ignore-scripts --prefer-offline >/dev/null); \
	install -d $(DESTDIR)$(PREFIX)/lib/uhw/node; \
	rm -rf $(DESTDIR)$(PREFIX)/lib/uhw/node/uhw-worker; \
	cp -R $(NODE_STAGE) $(DESTDIR)$(PREFIX)/lib/uhw/node/uhw-worker; \
	echo "installed $(DESTDIR)$(PREFIX)/lib/uhw/node/uhw-worker"

# node_modules stays: it is a download, and package-lock.json says when it is stale.
clean: clean-node
clean-node:
	rm -rf $(NODE_SDK)/gen
