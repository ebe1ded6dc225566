# syntax=docker/dockerfile:1
#
# One Node image for command-svc, query-svc and projector-svc (docker-compose
# chooses the program with `command:`), and the Envoy image that serves REST
# with the descriptor set built here. `docker build .` gives the service image
# (the last stage); `--target envoy` gives the Envoy one.
#
# The embedded FerretDB store (store/, Go) is for machines without MongoDB; the
# images use the mongo:7 container, so the build runs the proto generation and
# the TypeScript compiler only, not `npm run build` (which also builds the store).

ARG NODE_IMAGE=node:20-slim
ARG ENVOY_IMAGE=envoyproxy/envoy:v1.35-latest

# Every dependency, dev ones included: buf, ts-proto and typescript build the code.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` script is the full build, which
# needs the sources (not copied yet) and Go. No dependency needs its install
# script: buf's and swc's binaries come as per-platform optional packages.
RUN npm ci --ignore-scripts --no-audit --no-fund

# gen/ (TypeScript from proto/, and the descriptor set Envoy transcodes with),
# then dist/.
# gen.mjs also makes the Go client and the OpenAPI document with buf plugins it
# `go install`s (pinned, scripts/go-tools.mjs), so this stage needs Go.
FROM deps AS build
COPY --from=golang:1.26-bookworm /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH
COPY . .
RUN node scripts/gen.mjs && npx tsc -p tsconfig.json

# Production dependencies only, in their own stage so the runtime image carries
# neither the build tools nor the npm cache.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Envoy with the descriptor set of this very build, at the path envoy.yaml
# names (proto_descriptor). Baking it in keeps Envoy and the services on the
# same protos with no host-side `npm run gen` and no volume that could go
# stale; envoy.yaml itself is mounted by docker-compose.
FROM ${ENVOY_IMAGE} AS envoy
COPY --from=build /app/gen/descriptor.binpb /etc/envoy/descriptor.binpb
# The OpenAPI document envoy.yaml answers /cqrs/openapi.json with.
COPY --from=build /app/gen/openapi.json /etc/envoy/openapi.json
# The live page's files, which envoy.yaml answers /cqrs/live… with.
COPY --from=build /app/edge/live /etc/envoy/live

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/dist ./dist
# The same descriptor set, for code that loads it at run time (reflection).
COPY --from=build /app/gen/descriptor.binpb ./gen/descriptor.binpb
# The OpenAPI document, for `node dist/edge/main.js` (/cqrs/openapi.json, /cqrs/docs).
COPY --from=build /app/gen/openapi.json ./gen/openapi.json
# The live page, for `node dist/edge/main.js` (/cqrs/live).
COPY --from=build /app/edge/live ./edge/live
# Files stay root-owned and read-only to the service user.
USER node
# Exec form: node is the process that receives SIGTERM and shuts down
# gracefully. Override per service, e.g. ["node", "dist/query-svc/main.js"].
CMD ["node", "dist/command-svc/main.js"]
