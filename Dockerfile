# syntax=docker/dockerfile:1
# AgentRouter: one image for the control plane, the dataplane and the tare CLI.
#   docker build -t agentrouter:local .
#   docker run --rm agentrouter:local                          # control plane
#   docker run --rm agentrouter:local node --import tsx dataplane/main.ts
#   docker run --rm agentrouter:local tare api --help
# TypeScript runs as it is through tsx (a runtime dependency), so there is no compile step.

ARG NODE_IMAGE=node:20-bookworm-slim

# Stage 1: production dependencies. better-sqlite3 builds from source when no prebuilt binary
# matches the platform, so the toolchain lives here and never reaches the final image.
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 2: the runtime image: sources, production node_modules, an unprivileged user.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
  AGENTROUTER_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY shared ./shared
COPY control-plane ./control-plane
COPY dataplane ./dataplane
COPY cli ./cli
RUN ln -s /app/cli/tare.mjs /usr/local/bin/tare \
  && mkdir -p /data \
  && chown node:node /data
USER node
VOLUME ["/data"]
# 8080 control plane, 8081 dataplane, 8082 the development IdP (only without AGENTROUTER_OIDC_ISSUERS)
EXPOSE 8080 8081 8082
CMD ["node", "--import", "tsx", "control-plane/main.ts"]
