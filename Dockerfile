# The lifeline image: `lifeline serve` (the admission webhook) for `lifeline k8s install`.
#   npm ci && npm run build && docker build -t registry.example.com/lifeline:0.1.0 .
# dist/ is built outside the image (npm run build); the image holds the runtime dependencies only.
FROM node:20-slim

# PostgreSQL client tools (pg_dump, pg_restore, psql) that lifeline's PostgreSQL engine runs.
# (npm ci runs install scripts: better-sqlite3 fetches or builds its native module.)
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY dist ./dist

# Non-root, with the numeric id the Deployment's securityContext names (runAsUser 10001).
RUN groupadd --system --gid 10001 lifeline \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin lifeline
USER 10001:10001
ENV NODE_ENV=production
EXPOSE 8443

ENTRYPOINT ["node", "dist/cli/main.js", "serve"]
