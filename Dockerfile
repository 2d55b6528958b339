# syntax=docker/dockerfile:1
# Switchboard in a container. The build runs the same steps as the tested install path
# (test/e2e/journey/author.test.ts, test/bench/install.ts): `npm pack` both workspace packages (prepack builds
# them), then install the bot tarball with --omit=dev into an empty folder. This file has not been built on the
# machines the repository is developed on (no Docker daemon there); the steps it runs are tested.

ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Pack: the repository with its dev dependencies, built and packed into two tarballs.
FROM ${NODE_IMAGE} AS pack
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY skills/sdk/package.json skills/sdk/
# Dependency scripts are not needed to build (isolated-vm loads from its prebuilds; the `node` devDependency's
# own Node is not used here: the image's Node runs everything).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm pack --workspaces --include-workspace-root --pack-destination /packages \
 && ls -l /packages

# 2. Install: production dependencies only, into an empty folder, as a user would.
FROM ${NODE_IMAGE} AS install
WORKDIR /opt/switchboard
COPY --from=pack /packages /packages
RUN echo '{"name":"switchboard-app","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /packages/switchboard-skill-sdk-*.tgz /packages/switchboard-[0-9]*.tgz \
 && npm cache clean --force

# 3. Run: a non-root user, data in a volume, health from /readyz.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    SWITCHBOARD_DATA_DIR=/data \
    SWITCHBOARD_HTTP__HOST=0.0.0.0 \
    SWITCHBOARD_HTTP__PORT=8080 \
    SWITCHBOARD_ADAPTERS__CONSOLE__ENABLED=false
COPY --from=install /opt/switchboard /opt/switchboard
RUN mkdir -p /data && chown node:node /data
USER node
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/opt/switchboard/node_modules/.bin/switchboard"]
CMD ["start"]
