# syntax=docker/dockerfile:1
# contact-bridge: one image for every role (ROLE=all | api | worker), holding the product only
# (src/ and workers/ compiled, its migrations and views); the HubSpot simulator of the harness has
# a target of its own.
#
#   docker build -t contact-bridge .
#   docker run --env-file .env -p 127.0.0.1:3000:3000 contact-bridge
#   docker build --target hubspot-sim -t contact-bridge-hubspot-sim .
#
# docker-compose.yml runs the whole stack from it (api, workers, PostgreSQL, Redis).

# ---- build: every dependency, then tsc ----------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` runs tsc, and the sources are not here yet (this layer stays cached
# until the lockfile changes). The build runs explicitly below.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workers ./workers
RUN npm run build

# ---- the HubSpot simulator (harness, compose's `demo` profile): run from source with tsx ---------
FROM node:20-bookworm-slim AS hubspot-sim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm cache clean --force
COPY tsconfig.json ./
COPY harness/hubspot-sim ./harness/hubspot-sim
USER node
EXPOSE 4010
CMD ["node", "--import", "tsx", "harness/hubspot-sim/main.ts", "--host", "0.0.0.0", "--port", "4010", "--contacts", "20000", "--token", "demo-token"]

# ---- runtime: production dependencies and the compiled code only ------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, which is a dev dependency and not installed here.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at run time, relative to the compiled modules:
#   dist/src/db/migrate.js         -> ../../../migrations        = /app/migrations
#   dist/src/admin/status-page.js  -> ../../../src/admin/views/  = /app/src/admin/views
COPY migrations ./migrations
COPY src/admin/views ./src/admin/views
# The code stays owned by root (read-only to the process); the process runs as `node` (uid 1000).
USER node
EXPOSE 3000
# Liveness only (/healthz answers while the process is up); PORT as the process reads it.
# Plain HTTP: a process serving HTTPS itself (TLS_CERT_FILE) needs a different check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node itself, not npm: SIGTERM reaches the process, which closes gracefully
# (SHUTDOWN_TIMEOUT_SECONDS, 25 by default: give `docker stop` a longer timeout than that).
# Pending migrations are applied on start unless MIGRATE_ON_START=false.
CMD ["node", "dist/src/server.js"]
